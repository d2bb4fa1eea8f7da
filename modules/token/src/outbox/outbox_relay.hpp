#pragma once
/// OutboxRelay: publishes the rows of token_outbox to the event log (the transactional outbox) and
/// purges published rows after their retention.
///
/// N processes may run a relay over one database. SQLite: a pass first CLAIMS up to batch-size unpublished rows
/// (a conditional UPDATE of claim_owner/claim_until, portable to SQLite and PostgreSQL) that no other
/// relay holds, so each row is published by one relay at a time; rows claimed by a relay that died are
/// claimed again once its lease (token.outbox.lease) expired, so nothing is lost. Order is kept within a
/// batch; across relays two batches may interleave (consumers deduplicate by eventId and do not rely on
/// order across aggregates).
///
/// One pass reads the rows it claimed in seq order, appends each, in that order, to the
/// topic of its aggregate type (TokenUsage → the usage topic, anything else → the purchase topic) with
/// key = aggregate id (one saga's events stay in order on one partition) or else the row id, and value
/// = the payload unchanged. It stops at the first append failure, then stamps published_at on the rows
/// it sent, in one transaction. Delivery is at-least-once: a crash (or a failed stamp) after an append
/// sends that row again later; consumers deduplicate by the envelope's eventId.
///
/// Cursor mode (options.delete_consumed, SQLite, and an event log that knows its consumer groups: the
/// embedded profile). SQLite commits one writer at a time, so seq order is commit order and a cursor
/// (the last seq sent, in memory) finds every new row: a pass reads `seq > cursor` in seq order and
/// appends it, with no claim and no stamp. The rows every group reading their topic has committed
/// (EventLog::consumed_by_all) are then deleted, one range DELETE per pass (never within
/// options.consumer_grace of the start, while consumer groups may still be joining). A restart starts the
/// cursor at 0: it re-sends only the rows still there, which the consumers had not all committed.
/// Rows no group ever reads are deleted after the retention.
///
/// Locked mode (PostgreSQL, outbox_relay_locked.cpp): instead of claiming, one transaction per pass
/// locks up to batch-size unpublished rows with `FOR UPDATE SKIP LOCKED` (a row waits while an earlier
/// row of its saga is unpublished), appends them as one batch (EventLog::append_batch: about one round
/// trip to Kafka) and, before it commits, deletes the rows the log acknowledged (options.delete_consumed
/// and a durable log: Kafka keeps them for its consumers) or stamps them (a log in memory: kept for the
/// retention and sent again after a restart). The locks are the claim: a relay that dies mid-pass
/// releases its rows with its connection.
///
/// The relay thread runs a pass at once after a full batch, else when wake() is called or the poll
/// interval elapsed; after a failed pass it pauses (doubling from initial_backoff up to max_backoff,
/// wake() ignored) until a pass succeeds. Every purge-interval it deletes published rows older than
/// the retention, in chunks of one transaction each.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lt/core/clock.hpp"
#include "lt/core/log.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/event_log.hpp"
#include "lt/ports/sql_database.hpp"
#include "outbox/outbox_options.hpp"

namespace lt::token {

/// Aggregate type of usage events (routed to OutboxOptions::usage_topic).
inline constexpr std::string_view kUsageAggregateType = "TokenUsage";

/// Thread-safe: every member may be called from any thread, except that stop() must not be called
/// from the relay thread. The blocking members (publish_once, purge_once, stop) never on an I/O thread.
class OutboxRelay {
public:
    /// No I/O and no thread yet. `db`, `log`, `clock` and `metrics` (may be null: no metrics) must
    /// outlive the relay. `logger` may be null.
    OutboxRelay(ports::SqlDatabase& db, ports::EventLog& log, Clock& clock, MetricsRegistry* metrics, Logger logger,
                OutboxOptions options);
    /// Calls stop().
    ~OutboxRelay();
    OutboxRelay(const OutboxRelay&) = delete;
    OutboxRelay& operator=(const OutboxRelay&) = delete;

    /// Starts the relay thread, which runs a first pass at once. Does nothing when options.enabled is
    /// false, when already started, or after stop().
    void start();

    /// Stops the thread: it finishes the pass under way, then (unless it is backing off after a
    /// failure) keeps publishing full batches for at most options.stop_flush, and exits; joins it.
    /// Idempotent. Not from the relay thread.
    void stop();

    /// Asks for a pass soon: call after committing a transaction that wrote outbox rows. Lock-free and
    /// cheap when a pass is already pending or running (one atomic load); takes the relay's mutex only
    /// to wake a sleeping relay. Ignored while the relay backs off after a failure.
    void wake() noexcept;

    /// Runs one pass on the calling thread (serialized with the relay thread's passes) and returns how
    /// many rows it published and stamped. An error (SQL or event log) once rows may have been sent
    /// still stamps those sent before the failure. Tests and the relay thread.
    Result<std::size_t> publish_once();

    /// Marks every kept (published, not yet purged) row unpublished again, so the next passes send it
    /// again; returns how many. The relay thread does this at start when the event log is not durable
    /// (the in-memory log loses what was published before a restart). Tests and the relay thread.
    Result<std::size_t> republish_kept();

    /// Deletes published rows whose published_at is older than now - retention and returns how many.
    /// Serialized with publish_once. Tests and the relay thread.
    Result<std::size_t> purge_once();

    /// True when the relay runs in cursor mode (see the file comment).
    bool cursor_mode() const { return cursor_mode_; }

    /// Rows published and stamped since construction.
    std::uint64_t published() const { return published_.load(std::memory_order_relaxed); }
    /// Passes that failed (SQL or event log) since construction.
    std::uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
    /// Passes run since construction (failed ones included).
    std::uint64_t passes() const { return passes_.load(std::memory_order_relaxed); }
    /// Failed passes since the last successful one (0 when healthy).
    std::uint64_t consecutive_failures() const { return consecutive_failures_.load(std::memory_order_relaxed); }
    /// The pause the relay thread takes before its next pass because of failures (0 when healthy).
    std::chrono::milliseconds current_backoff() const {
        return std::chrono::milliseconds(backoff_ms_.load(std::memory_order_relaxed));
    }
    /// Seconds since the oldest unpublished row was created, as last measured (at most once a second,
    /// after a pass); 0 when every row is published. What outbox_relay_lag_seconds shows (the gauge
    /// adds the time since the measurement, so a stuck relay's lag keeps growing). Any thread.
    double lag_seconds() const;
    /// Unpublished rows as last measured by a pass (what the token_outbox_backlog gauge shows).
    std::int64_t backlog() const { return backlog_.load(std::memory_order_relaxed); }
    /// The options in use.
    const OutboxOptions& options() const { return options_; }

private:
    struct Row;

    void run();
    Result<std::size_t> publish_pass();
    /// Appends `rows` in order, each to its topic (keyed by its aggregate, else its id), as one batch
    /// (EventLog::append_batch; the payloads are moved out). One result per row, or a single error
    /// when the log failed as a whole (an exception, a short answer). Callers keep the prefix that
    /// succeeded.
    std::vector<Result<ports::EventRecord>> append_rows(std::vector<Row>& rows);
    /// Counts the first `sent` rows as published (metrics, published_).
    void count_published(const std::vector<Row>& rows, std::size_t sent);
    /// PostgreSQL (see the header): one transaction locks free rows (SKIP LOCKED), appends them and
    /// deletes (or stamps) what the log acknowledged.
    Result<std::size_t> publish_locked_pass();
    /// Sets the backlog gauge after a pass that read `read` rows, sent `sent`, and counted `counted`
    /// (when it counted).
    void after_pass(std::size_t read, std::size_t sent, std::optional<std::int64_t> counted);
    /// Whether a pass that read `read` rows (sent `sent`) must count the backlog now.
    bool count_due(std::size_t read, std::size_t sent) const;
    /// Stamps the first `count` rows published (and counts the backlog when due), one transaction.
    Result<void> mark_published(const std::vector<Row>& rows, std::size_t count);
    Result<std::size_t> purge_chunk(const std::string& cutoff);
    /// The outcome of a purge transaction `r` that deleted `deleted` rows: logged when it failed,
    /// counted (token_outbox_purged_total) when it did not.
    Result<std::size_t> purged(const Result<void>& r, std::int64_t deleted);
    void set_backlog(std::int64_t value);
    void measure_lag();
    // Cursor mode (kept apart from the stamping path above).
    /// A row appended in cursor mode, where the log put it.
    struct Sent {
        std::int64_t seq = 0;
        bool usage = false;  ///< on the usage topic (else the purchase topic)
        int partition = 0;
        std::int64_t offset = 0;
    };
    Result<std::size_t> publish_cursor_pass();
    Result<std::size_t> delete_consumed();
    Result<std::size_t> purge_cursor_chunk(const std::string& cutoff);
    std::chrono::milliseconds next_backoff(std::chrono::milliseconds previous) const;

    ports::SqlDatabase& db_;
    ports::EventLog& log_;
    Clock& clock_;
    Logger logger_;
    const OutboxOptions options_;
    const std::string owner_;  ///< this relay's claim id (random per instance)

    Gauge* backlog_gauge_ = nullptr;
    Counter* published_usage_ = nullptr;
    Counter* published_purchase_ = nullptr;
    Counter* failures_counter_ = nullptr;
    Counter* purged_counter_ = nullptr;

    std::mutex pass_mutex_;  ///< serializes passes and purges (relay thread and direct callers)
    std::chrono::steady_clock::time_point last_count_{};  ///< last COUNT of the backlog; guarded by pass_mutex_

    bool cursor_mode_ = false;  ///< fixed at construction
    bool locked_mode_ = false;  ///< PostgreSQL: publish_locked_pass(); fixed at construction
    bool delete_published_ = false;  ///< locked mode: delete what the (durable) log acknowledged
    // Cursor mode state, guarded by pass_mutex_.
    std::int64_t cursor_ = 0;      ///< the last seq appended to the log
    std::deque<Sent> sent_;        ///< appended rows not yet deleted, in seq order (bounded)
    std::int64_t untracked_upto_ = 0;  ///< rows up to this seq dropped out of sent_: the retention deletes them
    std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();

    std::mutex mutex_;              ///< guards stopping_ and started_; the relay sleeps on wake_cv_ with it
    std::condition_variable wake_cv_;
    bool stopping_ = false;
    bool started_ = false;
    std::atomic<bool> wake_pending_{false};  ///< a pass was asked for since the last one began
    std::atomic<bool> idle_{false};          ///< the relay thread is (about to be) asleep on wake_cv_
    std::mutex join_mutex_;                  ///< serializes stop() callers around the join
    std::thread thread_;

    std::atomic<std::uint64_t> published_{0};
    std::atomic<std::uint64_t> failures_{0};
    std::atomic<std::uint64_t> passes_{0};
    std::atomic<std::uint64_t> consecutive_failures_{0};
    std::atomic<std::int64_t> backoff_ms_{0};
    std::atomic<std::int64_t> backlog_{0};
    /// created_at of the oldest unpublished row (ms since the epoch; 0: none), as last measured by
    /// measure_lag(); shared with the outbox_relay_lag_seconds callback, which may outlive the relay.
    std::shared_ptr<std::atomic<std::int64_t>> oldest_unpublished_ms_ = std::make_shared<std::atomic<std::int64_t>>(0);
    std::chrono::steady_clock::time_point last_lag_{};  ///< last measure_lag() query; guarded by pass_mutex_
};

}  // namespace lt::token
