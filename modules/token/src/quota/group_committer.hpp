#pragma once
/// GroupCommitter: many callers' small units of SQL work committed together in one transaction
/// (group commit), each caller answered only after the transaction holding its unit committed.
///
/// One drainer thread takes up to `max_batch` queued units in submission order, runs them in ONE
/// transaction (SqlDatabase::transact_sync) and completes every waiter with its own result. When the
/// batch transaction fails, the units are re-run one transaction each, in the same order, so one bad
/// unit cannot fail the others. Batches commit in submission order: a unit submitted after another
/// is never committed before it. Inside a batch, units are run in the order of their `order_key`
/// (stable: units with equal keys, e.g. one pool's, keep their submission order): units that lock
/// rows give their row's key, so every batch of every process locks rows in one global order and
/// two processes' batches cannot deadlock (PostgreSQL would detect it only after deadlock_timeout).
/// A unit submitted as not `durable` needs its commit visible to every session but not yet flushed:
/// a batch of such units only commits with `synchronous_commit = off` on PostgreSQL (no WAL flush
/// wait; the WAL is flushed in order, so the next durable commit of any session makes it durable too,
/// and it is lost only with the server's crash, together with everything after it). A batch holding one
/// durable unit is durable. Callers answer a client only after a durable commit.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::token {

/// Receives the outcome of one unit of work. complete() is called exactly once, on the drainer thread
/// (or on the submitting thread when the committer is stopped); it must be quick and must not throw.
class CommitWaiter {
public:
    virtual ~CommitWaiter() = default;
    virtual void complete(Result<void> result) noexcept = 0;
};

/// A CommitWaiter calling `f(Result<void>)`.
template <class F>
class FunctionWaiter final : public CommitWaiter {
public:
    explicit FunctionWaiter(F f) : f_(std::move(f)) {}
    void complete(Result<void> result) noexcept override { f_(std::move(result)); }

private:
    F f_;
};

/// Wraps a callable into a CommitWaiter.
template <class F>
std::unique_ptr<CommitWaiter> make_waiter(F f) {
    return std::make_unique<FunctionWaiter<F>>(std::move(f));
}

/// Awaits a completion delivered through a CommitWaiter: `start(waiter)` runs on the awaiting
/// coroutine's thread at the moment it suspends (so the caller can take locks and enqueue in order),
/// and must hand the waiter on (or complete it). The coroutine resumes on its own executor.
template <class Start>
boost::asio::awaitable<Result<void>> await_commit(Start start) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(Result<void>)>(
        [start = std::move(start)](auto handler) mutable {
            auto ex = boost::asio::get_associated_executor(handler);
            start(make_waiter([handler = std::move(handler), ex](Result<void> r) mutable {
                boost::asio::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable {
                    std::move(handler)(std::move(r));
                });
            }));
        },
        boost::asio::use_awaitable);
}

/// Thread-safe: any thread or coroutine may submit; one internal thread runs the transactions.
class GroupCommitter {
public:
    /// A unit of work: statements run inside the batch's transaction on the drainer thread. It must
    /// not block on anything but the database, must have no effect outside the session (it runs a
    /// second time, in its own transaction, when its batch rolls back), and should not throw (a throw
    /// fails its batch, and then its own transaction, as Errc::internal).
    using Work = std::function<Result<void>(ports::SqlSession&)>;

    /// The statement a unit runs first, known when it is queued (PostgreSQL's one-statement fast
    /// paths). A batch sends the leads of two or more consecutive units with a lead in one pipeline (one
    /// round trip) before it runs the units; each unit's first execute() then gets its lead's result
    /// instead of running it. Only consecutive units with a lead share a pipeline: a unit without one
    /// keeps its place in the batch's order. A unit with a lead MUST run exactly that statement first
    /// (else its batch fails and it runs again alone, without the pipeline), and must be correct when
    /// the leads of the units after it in its run ran between its lead and the rest of its work.
    struct Lead {
        std::string_view sql;  ///< a string with static storage
        std::vector<ports::SqlValue> params;
    };

    /// Starts the drainer thread. `max_batch` (≥ 1; 0 is taken as 1) bounds the units per transaction.
    /// `db` must outlive the committer. `after_commit` (optional) runs on the drainer thread after each
    /// transaction that committed, before its waiters complete (e.g. to wake the outbox relay); it
    /// must be cheap and must not throw.
    explicit GroupCommitter(ports::SqlDatabase& db, std::size_t max_batch = 256,
                            std::function<void()> after_commit = {});
    /// Calls stop().
    ~GroupCommitter();
    GroupCommitter(const GroupCommitter&) = delete;
    GroupCommitter& operator=(const GroupCommitter&) = delete;

    /// Queues `work` and completes `waiter` after its transaction committed (or failed). Never blocks
    /// on the database. After stop(), `waiter` is completed at once with Errc::unavailable.
    /// Any thread.
    void enqueue(Work work, std::unique_ptr<CommitWaiter> waiter, std::string order_key = {}, bool durable = true,
                 std::optional<Lead> lead = std::nullopt);

    /// Queues `work` with `waiter` and returns true, moving from both; after stop() returns false and
    /// leaves both untouched (the caller still owns the waiter). Lets a caller enqueue while holding
    /// its own lock without the waiter being completed inside it. Any thread.
    bool try_enqueue(Work& work, std::unique_ptr<CommitWaiter>& waiter, std::string order_key = {},
                     bool durable = true, std::optional<Lead> lead = std::nullopt);

    /// Queues `work` and resumes the caller on its own executor with the unit's result once its
    /// transaction committed. Any coroutine. (Build the awaitable in its own statement.)
    boost::asio::awaitable<Result<void>> submit(Work work, std::string order_key = {}, bool durable = true,
                                                std::optional<Lead> lead = std::nullopt);

    /// Queues `work` and blocks the calling thread until it committed. Never on an I/O thread nor on
    /// the drainer thread (that would deadlock: fails with Errc::internal instead). Tests, CLI, start-up.
    Result<void> submit_sync(Work work);

    /// Stops accepting work, commits everything already queued, then joins the drainer. Idempotent.
    /// Any thread except the drainer.
    void stop();

    /// Transactions that committed a batch (fallback transactions not included). Any thread.
    std::uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
    /// Units completed successfully. Any thread.
    std::uint64_t items() const { return items_.load(std::memory_order_relaxed); }
    /// Units completed with an error. Any thread.
    std::uint64_t failed_items() const { return failed_items_.load(std::memory_order_relaxed); }
    /// Batches whose leads went to the database as one pipeline. Any thread.
    std::uint64_t pipelines() const { return pipelines_.load(std::memory_order_relaxed); }
    /// Batches whose transaction failed and were re-run one unit per transaction. Any thread.
    std::uint64_t fallbacks() const { return fallbacks_.load(std::memory_order_relaxed); }
    /// Every transaction attempted (batches, failed batches and fallback singles). Any thread.
    std::uint64_t transactions() const { return transactions_.load(std::memory_order_relaxed); }
    /// Units queued and not yet taken by the drainer. Any thread.
    std::size_t queue_depth() const;
    /// The database the batches run on. Any thread.
    ports::SqlDatabase& database() const { return db_; }
    /// The hook run after each commit (may be empty). Any thread.
    const std::function<void()>& after_commit() const { return after_commit_; }
    /// Most units per transaction. Any thread.
    std::size_t max_batch() const { return max_batch_; }

private:
    struct Item {
        Work work;
        std::unique_ptr<CommitWaiter> waiter;
        std::string order_key;  ///< units run in this order inside a batch (stable)
        bool durable = true;    ///< false: the commit need not wait for the WAL flush (PostgreSQL)
        std::optional<Lead> lead;  ///< pipelined with the batch's other leads (see Lead)
    };

    void drain_loop();
    void run_batch(std::deque<Item>& batch);

    ports::SqlDatabase& db_;
    const std::size_t max_batch_;
    const bool async_commit_;  ///< the database honours SET LOCAL synchronous_commit (PostgreSQL)
    const std::function<void()> after_commit_;
    mutable std::mutex mutex_;      ///< guards queue_, stopping_ and drainer_idle_
    std::condition_variable wake_;  ///< signalled on enqueue and stop
    std::deque<Item> queue_;
    bool stopping_ = false;
    bool drainer_idle_ = false;  ///< the drainer waits on wake_
    std::mutex join_mutex_;  ///< serializes stop() callers around the join
    std::thread drainer_;
    std::atomic<std::uint64_t> batches_{0};
    std::atomic<std::uint64_t> items_{0};
    std::atomic<std::uint64_t> failed_items_{0};
    std::atomic<std::uint64_t> fallbacks_{0};
    std::atomic<std::uint64_t> pipelines_{0};
    std::atomic<std::uint64_t> transactions_{0};
};

}  // namespace lt::token
