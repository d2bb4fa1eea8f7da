#pragma once
/// MemoryEventLog: the embedded EventLog adapter (and the fake used by tests).

#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "lt/core/clock.hpp"
#include "lt/ports/event_log.hpp"

namespace lt::adapters {

/// In-process event log. A topic has N partitions; a record goes to partition
/// `partition_for_key(key, N)`, and offsets count from 0 in each partition. Everything appended is
/// kept for the life of the object, unless `trim_consumed` is set: then the records that every group
/// reading the partition has committed are dropped (memory stays flat under a long run; a group that
/// starts reading later begins at the oldest record still kept, like Kafka's `earliest`). Each consumer group has, per (topic, partition), a committed
/// offset and a fetch position shared by all pollers of the group, so two pollers of one group never
/// receive the same record unless seek() rewinds; a new group starts at offset 0. Record timestamps
/// come from `Clock::now()`; poll() waits in real time.
/// Thread-safe: one mutex guards all state; poll() blocks on a condition variable, so call it from a
/// consumer thread or the blocking pool, never from an I/O thread (the other members are short).
class MemoryEventLog final : public ports::EventLog {
public:
    /// Records live in this process only.
    bool durable() const override { return false; }
    /// `clock` must outlive the log; `default_partitions` (>= 1; smaller counts become 1) is the
    /// partition count of topics created by append(). Any thread.
    explicit MemoryEventLog(Clock& clock, int default_partitions = 1, bool trim_consumed = false);
    /// Not copyable or movable (holds a mutex and waiting pollers).
    MemoryEventLog(const MemoryEventLog&) = delete;
    MemoryEventLog& operator=(const MemoryEventLog&) = delete;
    ~MemoryEventLog() override;

    /// Creates `topic` with `partitions` (>= 1, else invalid_argument) partitions; an existing topic
    /// is left as it is. Any thread.
    Result<void> create_topic(std::string_view topic, int partitions) override;

    /// Appends to partition `partition_for_key(key, N)` (creating the topic with the default
    /// partition count) and wakes waiting pollers. Any thread.
    Result<ports::EventRecord> append(std::string_view topic, std::string_view key, std::string value) override;

    /// Up to `max` records from the group's fetch positions, taken partition by partition in order
    /// (the first partition visited rotates between calls so none starves), advancing the positions.
    /// Waits up to `wait` (at most 24 h) when nothing is available; a topic that does not exist yet
    /// reads as empty.
    /// max 0 returns at once with nothing. Blocking: consumer thread or blocking pool only.
    Result<std::vector<ports::EventRecord>> poll(std::string_view topic, std::string_view group, std::size_t max,
                                                 std::chrono::milliseconds wait) override;

    /// Sets the group's committed offset of the record's partition to record.offset + 1 unless it is
    /// already further (it never moves back). invalid_argument for an unknown topic, partition or an
    /// offset that was never appended. Any thread.
    Result<void> commit(std::string_view group, const ports::EventRecord& record) override;

    /// Moves the group's fetch position of the record's partition to record.offset, so that record
    /// and the ones after it are delivered again. Same errors as commit(). Any thread.
    Result<void> seek(std::string_view group, const ports::EventRecord& record) override;

    /// The group's committed offset of `partition` (0 when the group never committed there);
    /// invalid_argument for a partition out of range of an existing topic. Any thread.
    Result<std::int64_t> committed(std::string_view topic, std::string_view group, int partition) override;

    /// The smallest committed offset of `partition` among the groups that read `topic` (0 when none
    /// reads it yet, or for a topic that does not exist). Any thread.
    Result<std::int64_t> consumed_by_all(std::string_view topic, int partition) override;
    /// Stable partition of `key` among `partitions` (>= 1): murmur2 of the key bytes, made positive,
    /// modulo the count — the same mapping as Kafka's Java client and librdkafka's `murmur2_random`
    /// partitioner for non-empty keys. Pure; any thread.
    static int partition_for_key(std::string_view key, int partitions);

    /// Records currently held in `topic` (all partitions). Any thread.
    std::size_t retained(std::string_view topic);

private:
    struct Partition {
        std::deque<ports::EventRecord> records;  ///< records[i].offset == base + i
        std::int64_t base = 0;                   ///< offset of records.front()
        std::int64_t end() const { return base + static_cast<std::int64_t>(records.size()); }
    };
    struct Topic {
        std::vector<Partition> partitions;
    };
    struct GroupPartition {
        std::int64_t committed = 0;
        std::int64_t position = 0;
    };
    struct GroupTopic {
        std::vector<GroupPartition> partitions;
        std::size_t next_partition = 0;  ///< where the next poll starts scanning
    };

    using TopicMap = std::map<std::string, Topic, std::less<>>;
    using GroupTopicMap = std::map<std::string, GroupTopic, std::less<>>;  ///< by topic
    using GroupMap = std::map<std::string, GroupTopicMap, std::less<>>;    ///< by group

    Topic& ensure_topic(std::string_view topic, int partitions);
    GroupTopic& ensure_group_topic(std::string_view group, std::string_view topic, const Topic& state);
    Result<GroupPartition*> locate(std::string_view group, const ports::EventRecord& record);
    std::vector<ports::EventRecord> take(GroupTopic& cursor, const Topic& topic, std::size_t max);
    /// With trim_consumed: drops the records of `topic`/`partition` every group has committed.
    void trim(std::string_view topic, Partition& partition, std::size_t index);

    Clock& clock_;
    int default_partitions_;
    bool trim_consumed_;
    std::mutex mutex_;                  ///< guards topics_ and groups_
    std::condition_variable appended_;  ///< notified on every append and seek
    TopicMap topics_;
    GroupMap groups_;
};

}  // namespace lt::adapters
