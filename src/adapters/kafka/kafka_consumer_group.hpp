#pragma once
/// Internal to the Kafka adapter: one consumer handle of one consumer group, shared by every thread
/// that polls a topic for that group in this process.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kafka_common.hpp"

namespace lt::adapters {

/// A librdkafka consumer with `group.id` = the group, subscribed to every topic polled for it.
/// Records fetched for any of those topics are kept per topic until a poller of that topic takes
/// them (fetching pauses for a topic with max_buffered records waiting). One thread at a time calls
/// rd_kafka_consumer_poll (which also runs the rebalance callback); the others wait for records.
/// Thread-safe.
class KafkaConsumerGroup final : kafka::HandleOwner {
public:
    /// Creates the handle (it joins the group on the first poll). Blocking only briefly.
    static Result<std::unique_ptr<KafkaConsumerGroup>> open(const std::string& brokers, const KafkaOptions& options,
                                                            std::string group, std::atomic<bool>* available);
    /// Leaves the group within close_timeout and destroys the handle.
    ~KafkaConsumerGroup();
    KafkaConsumerGroup(const KafkaConsumerGroup&) = delete;
    KafkaConsumerGroup& operator=(const KafkaConsumerGroup&) = delete;

    /// Up to `max` records of `topic`, waiting until `deadline`. Subscribes to `topic` first if needed.
    Result<std::vector<ports::EventRecord>> poll(const std::string& topic, std::size_t max,
                                                 std::chrono::steady_clock::time_point deadline);
    /// Commits record.offset + 1 (see KafkaEventLog::commit).
    Result<void> commit(const ports::EventRecord& record);
    /// Rewinds the record's partition to it (see KafkaEventLog::seek).
    Result<void> seek(const ports::EventRecord& record);
    /// The committed offset of (topic, partition) in the cluster, 0 when none.
    Result<std::int64_t> committed(const std::string& topic, int partition);
    /// The partitions assigned to this handle now, sorted.
    std::vector<std::pair<std::string, int>> assignment() const;
    /// Leaves the group (idempotent); called by the destructor.
    void close();

private:
    using TopicPartition = std::pair<std::string, int>;
    /// What this process knows of an assigned partition.
    struct Partition {
        std::int64_t handed_end = -1;  ///< offset after the last record handed to a poller (-1: none yet)
        std::int64_t resolved = -1;    ///< records below this one were committed or sought back
        std::int64_t committed = -1;   ///< highest offset committed by this process
        std::thread::id holder;        ///< the thread that got the records not yet resolved
        std::size_t buffered = 0;      ///< records of it waiting in buffers_
        bool paused = false;           ///< fetching paused (too many buffered)
        bool revoking = false;         ///< being taken away: no more seeks
    };

    KafkaConsumerGroup(KafkaOptions options, std::string group, std::atomic<bool>* available);

    static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                             void* opaque);
    void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
    /// Polls librdkafka once (up to `slice`) and files what came; caller holds poll_mutex_.
    Result<void> fetch(std::chrono::milliseconds slice);
    /// Files one message; caller holds mutex_.
    void stash(rd_kafka_message_t* message);
    /// Takes up to `max` records of `topic`; caller holds mutex_.
    std::vector<ports::EventRecord> take(const std::string& topic, std::size_t max);
    /// Drops the buffered records of one partition; caller holds mutex_.
    void drop_buffered(const TopicPartition& tp);
    /// Pauses or resumes fetching of partitions; caller holds mutex_ (the calls do not block).
    void set_paused(const std::vector<TopicPartition>& tps, bool paused);
    /// True when some thread other than this one holds unresolved records of `revoked`.
    bool others_in_flight(const std::vector<TopicPartition>& revoked) const;

    KafkaOptions options_;
    std::string group_;
    rd_kafka_t* rk_ = nullptr;
    bool closed_ = false;  ///< guarded by poll_mutex_

    std::mutex poll_mutex_;  ///< held while calling rd_kafka_consumer_poll / subscribe / seek
    mutable std::mutex mutex_;
    std::condition_variable changed_;  ///< records filed, poll_mutex_ released, something resolved
    std::uint64_t generation_ = 0;     ///< bumped with every changed_ notification
    std::set<std::string> topics_;     ///< topics polled for this group
    bool subscription_dirty_ = false;
    std::map<TopicPartition, Partition> assigned_;
    std::map<std::string, std::deque<ports::EventRecord>> buffers_;
    rd_kafka_resp_err_t last_error_ = RD_KAFKA_RESP_ERR_NO_ERROR;  ///< last consumer error logged
    std::chrono::steady_clock::time_point last_error_logged_{};
};

}  // namespace lt::adapters
