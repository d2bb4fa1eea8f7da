#pragma once
/// EventLog port: durable, partitioned topics with consumer groups and committed offsets
/// (at-least-once). Adapters: MemoryEventLog (embedded), KafkaEventLog (production).

#include <chrono>
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lt/core/result.hpp"

namespace lt::ports {

struct EventRecord {
    std::string topic;
    int partition = 0;
    std::int64_t offset = 0;
    std::string key;
    std::string value;
    std::chrono::system_clock::time_point timestamp{};
};

/// Thread-safe. poll() may block up to `wait`: call it from a consumer thread or the blocking pool,
/// never from an I/O thread.
class EventLog {
public:
    virtual ~EventLog() = default;

    /// Creates `topic` with `partitions` partitions if it does not exist (idempotent).
    virtual Result<void> create_topic(std::string_view topic, int partitions) = 0;

    /// Appends to the partition chosen by hash(key) (a topic that does not exist is created with one
    /// partition). Returns the stored record (partition, offset). Records with the same key keep
    /// their order.
    virtual Result<EventRecord> append(std::string_view topic, std::string_view key, std::string value) = 0;

    /// One record of append_batch(): `topic` and `key` must stay valid during the call.
    struct Append {
        std::string_view topic;
        std::string_view key;
        std::string value;
    };

    /// Appends `records` in order (as append() would, one after the other) and returns one result per
    /// record, in the same order. Records with the same key keep their order. A log that can have many
    /// records in flight at once (Kafka) sends them all before it waits for their acknowledgements, so
    /// a batch costs about one round trip; after a failure, later records may or may not be stored
    /// (callers that need a prefix count successes up to the first failure and send the rest again).
    /// Blocking like append(). The default calls append() for each record, stopping at the first failure
    /// (an exception counts as one, Errc::internal; the remaining records report Errc::unavailable).
    virtual std::vector<Result<EventRecord>> append_batch(std::span<Append> records) {
        std::vector<Result<EventRecord>> out;
        out.reserve(records.size());
        bool failed = false;
        for (auto& r : records) {
            if (failed) {
                out.push_back(fail(Errc::unavailable, "not sent: an earlier record of the batch failed"));
                continue;
            }
            try {
                out.push_back(append(r.topic, r.key, std::move(r.value)));
            } catch (const std::exception& e) {
                out.push_back(fail(Errc::internal, std::string("event log append threw: ") + e.what()));
            } catch (...) {
                out.push_back(fail(Errc::internal, "event log append threw"));
            }
            failed = !out.back();
        }
        return out;
    }

    /// Up to `max` records of `topic` for consumer `group`, from the group's fetch position, waiting up
    /// to `wait` when there are none. Each record goes to one poller of the group.
    virtual Result<std::vector<EventRecord>> poll(std::string_view topic, std::string_view group, std::size_t max,
                                                  std::chrono::milliseconds wait) = 0;

    /// Marks `record` and everything before it in its partition as processed by `group`.
    virtual Result<void> commit(std::string_view group, const EventRecord& record) = 0;

    /// Moves the group's fetch position in `record`'s partition back to `record`, so it (and what
    /// follows) is delivered again — used after a handler failed.
    virtual Result<void> seek(std::string_view group, const EventRecord& record) = 0;

    /// The group's committed offset for a partition (next offset to process; 0 when none).
    virtual Result<std::int64_t> committed(std::string_view topic, std::string_view group, int partition) = 0;

    /// The offset below which EVERY consumer group that reads `topic` has committed `partition` (the
    /// smallest committed offset among them; 0 while no group reads it): the records below it are
    /// processed by every consumer there is. A producer with its own durable copy (the outbox) may
    /// then drop that copy. Errc::internal "unsupported" when the log cannot tell (Kafka: the groups
    /// are not known to a producer); callers then keep their copy for a retention. Any thread; short.
    virtual Result<std::int64_t> consumed_by_all(std::string_view topic, int partition) {
        (void)topic;
        (void)partition;
        return fail(Errc::internal, "consumed_by_all is not supported by this event log");
    }

    /// True when appended records survive a restart of this process (Kafka). False for the in-memory
    /// log: producers with their own durable copy (the outbox) then publish it again after a restart.
    virtual bool durable() const { return true; }

    /// False while the backend cannot be reached (Kafka: no broker answers); readiness then reports
    /// the component `kafka` down. Any thread; never blocks.
    virtual bool available() const { return true; }
};

}  // namespace lt::ports
