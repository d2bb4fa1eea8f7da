#pragma once
/// KafkaEventLog: the EventLog port on Apache Kafka through librdkafka's C API (production profile).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "lt/core/log.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/event_log.hpp"

struct rd_kafka_topic_s;  // librdkafka's rd_kafka_topic_t

namespace lt::adapters {

class KafkaConsumerGroup;
struct KafkaProducer;

/// How KafkaEventLog talks to the cluster. The defaults suit production; tests shorten the group
/// timings (librdkafka's mock cluster coordinates groups slowly).
struct KafkaOptions {
    /// `storage.events.timeout`: longest wait for a delivery report (append), a commit, a seek, a
    /// committed-offset fetch, a topic creation or the metadata probe; past it → Errc::unavailable.
    std::chrono::milliseconds timeout{5000};
    /// `storage.events.partitions`: partitions of a topic created when missing (append or poll of a
    /// topic that does not exist yet). >= 1.
    int default_partitions = 1;
    /// Replication factor of the topics this adapter creates; -1 takes the broker's default.
    int replication_factor = -1;
    /// `storage.events.session-timeout`: a consumer silent this long leaves its group and its
    /// partitions go to the others (Kafka's session.timeout.ms).
    std::chrono::milliseconds session_timeout{10000};
    /// Heartbeats to the group coordinator (heartbeat.interval.ms); 0: session_timeout / 3, at most 3 s.
    std::chrono::milliseconds heartbeat_interval{0};
    /// A consumer handle not polled for this long leaves its group (max.poll.interval.ms); it is also
    /// the rebalance timeout the coordinator gives the group's members to rejoin.
    std::chrono::milliseconds max_poll_interval{300000};
    /// Longest time a broker holds a fetch open when it has nothing new (fetch.wait.max.ms).
    std::chrono::milliseconds fetch_wait{100};
    /// Producer batching delay (linger.ms). append() waits for its own delivery, so 0 keeps it short.
    std::chrono::milliseconds linger{0};
    /// Longest wait at shutdown, for the consumers to leave their groups and for the producer to flush.
    std::chrono::milliseconds close_timeout{5000};
    /// When a partition is taken away (rebalance), records of it handed to another thread are given
    /// this long to be committed or sought before the partition goes; what is not committed by then
    /// is delivered to the new owner again (at least once).
    std::chrono::milliseconds revoke_drain{2000};
    /// Records fetched for one topic and not yet polled, per consumer group, beyond which fetching of
    /// that topic's partitions pauses (one group handle serves every topic the group polls).
    std::size_t max_buffered = 5000;
    /// client.id sent to the brokers.
    std::string client_id = "leaky-tokens";
    /// Further librdkafka properties for every handle (`security.protocol`, `sasl.*`, `ssl.*`, ...).
    std::map<std::string, std::string> properties;
    /// Creates a topic instead of the Admin API's CreateTopics (null: CreateTopics). For clusters that
    /// lack that API: librdkafka's mock cluster has none, its fixture creates topics directly.
    /// Called from the thread that calls create_topic / append / poll.
    std::function<Result<void>(std::string_view topic, int partitions)> topic_creator;
    /// False: missing topics are created by the brokers on first use (a metadata request for the
    /// topic), never through CreateTopics (storage.events.create-topics).
    bool create_topics = true;
    /// Where the adapter and librdkafka log (null: nowhere).
    Logger logger;
};

/// EventLog on Kafka. Appends go through one idempotent producer (`enable.idempotence=true`,
/// `acks=all`, Kafka's murmur2 partitioner on the record key, so one key stays in one partition and
/// in order). Each consumer group polled gets one consumer handle (`enable.auto.commit=false`,
/// `auto.offset.reset=earliest`) subscribed to every topic polled for that group; several processes
/// with the same group share the partitions (rebalances are handled: records of a partition taken
/// away are dropped and are not committed by this process any more). Topics are created when
/// missing: the Admin API first, broker auto-creation when the cluster refuses CreateTopics.
///
/// Thread-safe, as the port says. Every call BLOCKS on the network (bounded by
/// KafkaOptions::timeout, poll() by its `wait`): call it from a consumer thread, the outbox relay's
/// thread or the blocking pool, never from an I/O thread.
class KafkaEventLog final : public ports::EventLog {
public:
    /// Connects to `brokers` (bootstrap servers, comma-separated `host:port`). invalid_argument for an
    /// empty broker list or options librdkafka refuses. An unreachable cluster is not an error: the
    /// log starts unavailable (available() false) and recovers when a broker answers. Blocking (start-up).
    static Result<std::unique_ptr<KafkaEventLog>> open(std::string brokers, KafkaOptions options);

    /// Leaves the consumer groups and flushes the producer, each within close_timeout. Owning thread,
    /// after every caller of the other methods has stopped.
    ~KafkaEventLog() override;
    KafkaEventLog(const KafkaEventLog&) = delete;
    KafkaEventLog& operator=(const KafkaEventLog&) = delete;

    /// CreateTopics (or KafkaOptions::topic_creator); a topic that exists already is success.
    /// Blocking, up to `timeout`.
    Result<void> create_topic(std::string_view topic, int partitions) override;
    /// Produces and waits for the delivery report: returns the stored record (partition, offset,
    /// broker timestamp). unavailable when the report does not come within `timeout` (no broker, no
    /// leader, ...). Blocking: never on an I/O thread.
    Result<ports::EventRecord> append(std::string_view topic, std::string_view key, std::string value) override;
    /// Produces every record, then waits for their delivery reports (one deadline, `timeout`, for
    /// the batch): about one round trip per batch. A record that cannot be produced ends the batch
    /// (the rest are not produced). Blocking: never on an I/O thread.
    std::vector<Result<ports::EventRecord>> append_batch(std::span<Append> records) override;
    /// Up to `max` records of `topic` assigned to this process's consumer of `group`, waiting up to
    /// `wait`. The first poll of a group joins it (a few seconds on a fresh group). Blocking.
    Result<std::vector<ports::EventRecord>> poll(std::string_view topic, std::string_view group, std::size_t max,
                                                 std::chrono::milliseconds wait) override;
    /// Commits offset + 1 of the record's partition for `group`, synchronously (up to `timeout`).
    /// conflict when the partition is no longer assigned to this process (rebalanced away); a commit
    /// below the committed offset is a no-op. Blocking.
    Result<void> commit(std::string_view group, const ports::EventRecord& record) override;
    /// Rewinds the group's fetch position in the record's partition to the record. A partition no
    /// longer assigned to this process is left alone (success: its new owner starts from the
    /// committed offset). Blocking, up to about `timeout`.
    Result<void> seek(std::string_view group, const ports::EventRecord& record) override;
    /// The group's committed offset in the cluster (0 when none). Blocking, up to `timeout`.
    Result<std::int64_t> committed(std::string_view topic, std::string_view group, int partition) override;
    /// True: records are stored by the brokers.
    bool durable() const override { return true; }
    /// False while no broker is reachable (librdkafka reported all brokers down and no broker has
    /// answered since). Any thread, never blocks.
    bool available() const override;

    /// The partitions of `group` assigned to this process's consumer right now, sorted (empty before
    /// the first poll of the group and while it rebalances). Diagnostics and tests. Any thread.
    std::vector<std::pair<std::string, int>> assignment(std::string_view group);

private:
    KafkaEventLog(std::string brokers, KafkaOptions options);
    Result<void> start();
    /// Makes sure `topic` exists (created with default_partitions when missing); cached per topic.
    Result<void> ensure_topic(std::string_view topic);
    Result<bool> topic_exists(const std::string& topic);
    Result<void> create_with_admin(const std::string& topic, int partitions);
    Result<void> auto_create(const std::string& topic);
    /// The producer's handle of an existing topic, with its metadata loaded; caller holds topics_mutex_.
    Result<::rd_kafka_topic_s*> remember_topic(const std::string& topic);
    /// The consumer of `group`, created on first use.
    Result<KafkaConsumerGroup*> group_for(std::string_view group);
    void service_loop();

    std::string brokers_;
    KafkaOptions options_;
    std::unique_ptr<KafkaProducer> producer_;
    std::atomic<bool> available_{true};
    std::atomic<bool> stopping_{false};
    std::thread service_;  ///< serves delivery reports and probes the cluster while it is unreachable

    std::mutex topics_mutex_;  ///< serialises topic creation
    /// Topics known to exist, with the producer's handle of each (its metadata fetched once, so the
    /// first append does not wait for librdkafka's periodic topic scan).
    std::map<std::string, ::rd_kafka_topic_s*, std::less<>> known_topics_;

    std::mutex groups_mutex_;
    std::map<std::string, std::unique_ptr<KafkaConsumerGroup>, std::less<>> groups_;
};

}  // namespace lt::adapters
