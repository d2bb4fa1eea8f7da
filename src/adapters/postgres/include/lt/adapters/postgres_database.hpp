#pragma once
/// PostgresDatabase: the production adapter of the SqlDatabase port (libpq, a pool of connections,
/// each owned by a dedicated thread of the adapter).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::adapters {

/// Tuning of a PostgresDatabase. Every wait has a deadline: connecting (connect_timeout), a statement
/// on the server (statement_timeout), a dead peer (tcp_user_timeout) and the queue for a connection.
struct PostgresOptions {
    /// Connect deadline, used when the URL has no `connect_timeout` (libpq counts whole seconds).
    std::chrono::seconds connect_timeout{3};
    /// Server-side limit of one statement (`SET statement_timeout`; 0 = none), unless the URL sets it
    /// (`options=-c%20statement_timeout%3D5000`). The client gives up 5 s later (connection dropped).
    std::chrono::milliseconds statement_timeout{10000};
    /// How long a sent request may stay unacknowledged before the connection counts as dead, used
    /// when the URL has no `tcp_user_timeout`.
    std::chrono::milliseconds tcp_user_timeout{10000};
    /// Longest wait of a transaction for a free connection before failing with Errc::unavailable.
    std::chrono::milliseconds queue_timeout{10000};
    /// Runs of a transaction body in all (first run + retries) after serialization failures
    /// (SQLSTATE 40001), deadlocks (40P01) or a connection lost before COMMIT.
    int max_attempts = 8;
    /// First and longest pause between reconnection attempts of one connection (doubling, jittered).
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{5000};
};

class PostgresConnection;

/// SqlDatabase over a PostgreSQL server. `pool_size` connections, each owned by one private thread
/// (never an I/O thread nor the shared BlockingPool). transact() queues the body; the first free
/// connection's thread runs BEGIN, the body, COMMIT (ROLLBACK on error) and the awaiting coroutine
/// resumes on its own executor. Transactions are READ COMMITTED (PostgreSQL's default): statements
/// that must not lose updates are written as single conditional UPDATE/upsert statements.
///
/// Durable by default: synchronous_commit is left as the server has it. Statements are prepared once
/// per connection (cache keyed by SQL text and parameter types); `$1, $2, ...` are sent as typed
/// parameters: int64 → int8, double → float8, text → text, NULL → type inferred by the server.
/// Columns come back by type: int2/int4/int8/bool → int64, float4/float8/numeric → double, others text.
/// Errors: SQLSTATE class 23 (constraints) → Errc::conflict; lost or refused connections, timeouts
/// and exhausted retries → Errc::unavailable; others → Errc::internal. A broken connection is
/// replaced with backoff; meanwhile transactions fail fast with Errc::unavailable and available() is
/// false. Thread-safe: any thread or coroutine may call it. SQL, parameters and the URL's password
/// are never logged.
class PostgresDatabase final : public lt::ports::SqlDatabase {
public:
    /// Connects to `url` (libpq URI or key=value string; TLS through its `sslmode`, e.g.
    /// `postgresql://user:pw@host:5432/db?sslmode=verify-full`) and starts `pool_size` (>= 1)
    /// connection threads. The first connection is made here, so a wrong URL, a refused password or
    /// an unreachable server fail now (Errc::unavailable or Errc::invalid_argument); the others connect
    /// in the background. Blocking (up to connect_timeout); call at start-up, not on an I/O thread.
    static lt::Result<std::unique_ptr<PostgresDatabase>> open(std::string url, std::size_t pool_size,
                                                              PostgresOptions opts = {});

    /// Runs the queued transactions, then closes every connection and joins the threads.
    ~PostgresDatabase() override;
    PostgresDatabase(const PostgresDatabase&) = delete;
    PostgresDatabase& operator=(const PostgresDatabase&) = delete;

    /// Always "postgres".
    std::string_view dialect() const override;

    /// Runs `fn` in one transaction on a connection thread; commits on success, rolls back on error
    /// (or exception, reported as Errc::internal). Reruns `fn` (so it must be re-runnable) after a
    /// serialization failure or deadlock (up to max_attempts, jittered pauses) and after a connection
    /// lost before COMMIT. Any coroutine may await it; it resumes on the caller's executor.
    boost::asio::awaitable<lt::Result<void>> transact(
        std::function<lt::Result<void>(lt::ports::SqlSession&)> fn) override;

    /// The same, blocking the calling thread (start-up, CLI, tests, group-commit lanes; never an I/O
    /// thread). When a connection is idle the transaction runs on the CALLING thread with that
    /// connection borrowed from its pool thread (no hand-off to the pool thread and back: the caller
    /// blocks anyway); otherwise it is queued like transact(). Called from inside a transaction body
    /// of this database it fails with Errc::internal instead of deadlocking.
    lt::Result<void> transact_sync(std::function<lt::Result<void>(lt::ports::SqlSession&)> fn) override;

    /// Runs a multi-statement script (simple query protocol) inside `session`, which must come from
    /// this database's transact()/transact_sync(). The script must not end the transaction.
    lt::Result<void> execute_script(lt::ports::SqlSession& session, std::string_view script) override;

    /// False from the moment a connection is found broken or cannot be made until one connects again.
    bool available() const override;

private:
    /// One queued transaction: the body and what to do with its outcome (called on a pool thread).
    struct Job {
        std::function<lt::Result<void>(lt::ports::SqlSession&)> fn;
        std::function<void(lt::Result<void>)> done;
        std::chrono::steady_clock::time_point deadline;
    };
    /// A pool slot: its connection (used by its own thread, or by a transact_sync() caller that
    /// borrowed it) and its reconnection schedule. `busy` and `borrowed` change under mutex_.
    struct Slot {
        std::unique_ptr<PostgresConnection> conn;
        bool busy = false;      ///< the slot's thread is using the connection (job, reconnect, idle check)
        bool borrowed = false;  ///< a transact_sync() caller runs a transaction on it
        std::condition_variable returned;  ///< the slot's thread waits here while the slot is borrowed
        std::chrono::steady_clock::time_point next_attempt{};
        std::chrono::milliseconds backoff{0};
        std::string last_error;
        std::thread thread;
    };

    PostgresDatabase(std::string url, PostgresOptions opts);
    void enqueue(Job job);
    void worker(Slot& slot);
    /// Connects `slot` now; on failure schedules the next attempt and marks the database unavailable.
    bool connect(Slot& slot);
    /// Forgets `slot`'s broken connection (reconnects at once on next use, then with backoff).
    void drop(Slot& slot, std::string why);
    lt::Result<void> run_job(Slot& slot, Job& job);
    /// An idle connected slot marked borrowed, or null (none idle, or stopping).
    Slot* borrow();
    /// Ends a borrow and wakes the slot's thread.
    void give_back(Slot& slot);

    const std::string url_;  ///< never logged (may hold a password)
    const PostgresOptions opts_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::mutex mutex_;  ///< guards queue_, stopping_, connected_ and the slots' `conn` pointers' changes
    std::condition_variable work_;       ///< idle threads holding a connection (one woken per job)
    std::condition_variable reconnect_;  ///< threads without a connection (all woken when none is left)
    std::deque<Job> queue_;
    bool stopping_ = false;
    std::size_t connected_ = 0;  ///< slots holding a connection
    std::atomic<bool> available_{true};
};

}  // namespace lt::adapters
