#pragma once
/// EventConsumer: a poll loop on its own thread that hands the records of one (topic, group) to a
/// synchronous handler, at least once and in order per partition.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "lt/core/log.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/event_log.hpp"

namespace lt {

/// What an EventConsumer reads and how it retries.
struct EventConsumerOptions {
    std::string topic;                                ///< topic to read (required)
    std::string group;                                ///< consumer group (required)
    std::size_t max_batch = 100;                      ///< records per poll (>= 1)
    std::chrono::milliseconds poll_wait{200};         ///< longest poll wait; bounds how long stop() takes
    std::chrono::milliseconds initial_backoff{50};    ///< pause after the first failure in a row
    std::chrono::milliseconds max_backoff{5000};      ///< the pause doubles up to this
};

/// Runs `poll → handler → commit` for one (topic, group) on a dedicated std::thread.
/// A record the handler accepts is committed; a record it refuses (error or exception) is sought
/// back to, the loop pauses (backoff doubling from initial_backoff to max_backoff, reset by the next
/// success) and the record is delivered again — so every record is handled at least once, and the
/// records of a partition in order. The handler runs on the consumer thread, one record at a time,
/// and should be idempotent (a record may come again after a crash or a failed commit).
/// With a BatchHandler instead, each polled batch is handed over whole: success commits the last
/// record of each partition in it; an error (or exception) seeks every partition of the batch back to
/// its first record of the batch and redelivers the whole batch after the backoff pause.
/// start() and stop() are for the owning thread (module start/stop); counters are readable from any
/// thread.
class EventConsumer {
public:
    /// Handles one record; an error means "not processed, deliver it again".
    using Handler = std::function<Result<void>(const ports::EventRecord&)>;
    /// Handles a whole polled batch (1..max_batch records, in poll order); an error means "none of
    /// them processed, deliver them all again".
    using BatchHandler = std::function<Result<void>(std::span<const ports::EventRecord>)>;

    /// `log` must outlive the consumer. `logger` may be null (then nothing is logged). No thread is
    /// started here. Owning thread.
    EventConsumer(ports::EventLog& log, EventConsumerOptions options, Handler handler, Logger logger);
    /// The same with a batch handler (see the class comment). Owning thread.
    EventConsumer(ports::EventLog& log, EventConsumerOptions options, BatchHandler handler, Logger logger);
    /// Stops the loop (see stop()). Owning thread.
    ~EventConsumer();
    EventConsumer(const EventConsumer&) = delete;
    EventConsumer& operator=(const EventConsumer&) = delete;

    /// Starts the consumer thread; does nothing when it is already running. invalid_argument for an
    /// empty topic or group, max_batch 0 or no handler; internal when no thread can be created.
    /// Owning thread.
    Result<void> start();

    /// Asks the loop to stop and joins it: returns once the current handler call (if any) has
    /// finished and the current poll wait has ended, i.e. within about `poll_wait`; a backoff pause is
    /// cut short. Records polled but not handled are sought back to. Idempotent. Owning thread (never
    /// the handler: called from the consumer thread it only asks the loop to stop).
    void stop();

    /// True between start() and stop(). Any thread.
    bool running() const;
    /// Records processed (handler calls that succeeded; with a batch handler, the records of the
    /// batches that succeeded). Any thread.
    std::uint64_t delivered() const;
    /// Handler calls that failed (each followed by a redelivery). Any thread.
    std::uint64_t failed() const;

private:
    void run();
    Result<void> handle(const ports::EventRecord& record);
    Result<void> handle_batch(std::span<const ports::EventRecord> batch);
    /// Hands a polled batch to batch_handler_ and commits or rewinds it.
    void run_batch(const std::vector<ports::EventRecord>& batch, std::chrono::milliseconds& backoff);
    /// Seeks back to the first unhandled record of each partition in batch[from..].
    void rewind(const std::vector<ports::EventRecord>& batch, std::size_t from);
    /// Waits `pause` unless stop() is called first; false when stopping.
    bool pause(std::chrono::milliseconds pause);
    std::chrono::milliseconds next_backoff(std::chrono::milliseconds current) const;

    ports::EventLog& log_;
    EventConsumerOptions options_;
    Handler handler_;            ///< one of handler_ and batch_handler_ is set
    BatchHandler batch_handler_;
    Logger logger_;

    std::mutex control_mutex_;  ///< serialises start()/stop()
    std::thread thread_;
    std::atomic<std::thread::id> loop_thread_id_{};  ///< the consumer thread while it runs
    std::mutex wake_mutex_;  ///< pairs with wake_ for the backoff pause
    std::condition_variable wake_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> running_{false};
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> failed_{0};
};

}  // namespace lt
