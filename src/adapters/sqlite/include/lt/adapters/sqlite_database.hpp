#pragma once
/// SqliteDatabase: the embedded adapter of the SqlDatabase port (one SQLite file, WAL journal).

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "lt/core/blocking_pool.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::adapters {

/// Tuning of a SqliteDatabase.
struct SqliteOptions {
    /// How long a transaction waits for another process holding the write lock before failing.
    std::chrono::milliseconds busy_timeout{5000};
    /// Prepared statements kept per connection (least recently used ones are finalized first).
    std::size_t statement_cache_size = 256;
};

class SqliteConnection;

/// SqlDatabase over one SQLite file (or ":memory:"). Every transaction is BEGIN IMMEDIATE on a single
/// connection guarded by a mutex: writers in this process queue on the mutex, writers in other
/// processes wait on SQLite's lock (busy_timeout). Thread-safe: any thread or coroutine may call it.
/// Statements use `$1, $2, ...` placeholders (also inside one statement several times); SQL and
/// parameters are never logged.
class SqliteDatabase final : public lt::ports::SqlDatabase {
public:
    /// Opens (creating the file and its parent folders when missing) and configures the database:
    /// journal_mode=WAL, synchronous=NORMAL, foreign_keys=ON, busy_timeout. `file` may be ":memory:"
    /// (a private in-memory database). `pool` runs transact() bodies and must outlive the database.
    /// Blocking; call at start-up, not on an I/O thread.
    static lt::Result<std::unique_ptr<SqliteDatabase>> open(const std::filesystem::path& file,
                                                            lt::BlockingPool& pool, SqliteOptions opts = {});

    /// Closes the connection. No transaction may be running.
    ~SqliteDatabase() override;
    SqliteDatabase(const SqliteDatabase&) = delete;
    SqliteDatabase& operator=(const SqliteDatabase&) = delete;

    /// Always "sqlite".
    std::string_view dialect() const override;

    /// Runs `fn` in one BEGIN IMMEDIATE transaction on the blocking pool; commits on success, rolls
    /// back on error (or exception, reported as Errc::internal). Any coroutine may await it.
    boost::asio::awaitable<lt::Result<void>> transact(
        std::function<lt::Result<void>(lt::ports::SqlSession&)> fn) override;

    /// The same on the calling thread (never an I/O thread). Calling it from inside a transaction
    /// body of this database fails with Errc::internal instead of deadlocking.
    lt::Result<void> transact_sync(std::function<lt::Result<void>(lt::ports::SqlSession&)> fn) override;

    /// Runs a multi-statement script (sqlite3_exec) inside `session`, which must come from this
    /// database's transact()/transact_sync().
    lt::Result<void> execute_script(lt::ports::SqlSession& session, std::string_view script) override;

private:
    SqliteDatabase(std::unique_ptr<SqliteConnection> conn, lt::BlockingPool& pool);
    /// One transaction on the calling thread: lock, BEGIN IMMEDIATE, fn, COMMIT or ROLLBACK.
    lt::Result<void> run_transaction(std::function<lt::Result<void>(lt::ports::SqlSession&)>& fn);

    std::mutex mutex_;                        ///< guards conn_: one transaction at a time
    std::unique_ptr<SqliteConnection> conn_;  ///< used only while mutex_ is held
    lt::BlockingPool& pool_;
};

}  // namespace lt::adapters
