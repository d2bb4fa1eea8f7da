#include "lt/adapters/sqlite_database.hpp"

#include <exception>
#include <string>
#include <utility>

#include "sqlite_connection.hpp"

namespace lt::adapters {

using lt::ports::SqlResult;
using lt::ports::SqlSession;
using lt::ports::SqlValue;

namespace {

/// The session handed to a transaction body: statements on the connection that holds the open
/// transaction. Lives on the stack of run_transaction().
class SqliteSession final : public SqlSession {
public:
    SqliteSession(SqliteConnection& conn, const SqliteDatabase* owner) : conn_(conn), owner_(owner) {}

    using SqlSession::execute;
    Result<SqlResult> execute(std::string_view sql, std::span<const SqlValue> params) override {
        try {
            return conn_.execute(sql, params);
        } catch (const std::exception& e) {
            return fail(Errc::internal, std::string("sqlite statement failed: ") + e.what());
        }
    }

    /// The connection, for execute_script().
    SqliteConnection& connection() { return conn_; }
    /// The database that opened this session.
    const SqliteDatabase* owner() const { return owner_; }

private:
    SqliteConnection& conn_;
    const SqliteDatabase* owner_;
};

/// The database whose transaction body the current thread is running, to refuse re-entry (which
/// would deadlock on the mutex).
thread_local const SqliteDatabase* t_running = nullptr;

/// Marks the current thread as running a transaction of `db` for the guard's lifetime.
class RunningMark {
public:
    explicit RunningMark(const SqliteDatabase* db) : previous_(t_running) { t_running = db; }
    ~RunningMark() { t_running = previous_; }
    RunningMark(const RunningMark&) = delete;
    RunningMark& operator=(const RunningMark&) = delete;

private:
    const SqliteDatabase* previous_;
};

}  // namespace

lt::Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::open(const std::filesystem::path& file,
                                                                 lt::BlockingPool& pool, SqliteOptions opts) {
    try {
        auto conn = SqliteConnection::open(file, opts);
        if (!conn) return fail(conn.error());
        return std::unique_ptr<SqliteDatabase>(new SqliteDatabase(std::move(*conn), pool));
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("cannot open sqlite database: ") + e.what());
    }
}

SqliteDatabase::SqliteDatabase(std::unique_ptr<SqliteConnection> conn, lt::BlockingPool& pool)
    : conn_(std::move(conn)), pool_(pool) {}

SqliteDatabase::~SqliteDatabase() = default;

std::string_view SqliteDatabase::dialect() const { return "sqlite"; }

boost::asio::awaitable<lt::Result<void>> SqliteDatabase::transact(
    std::function<lt::Result<void>(SqlSession&)> fn) {
    // Built in its own statement: see docs/coding-notes.md (no temporaries inside co_await).
    auto op = pool_.run([this, fn = std::move(fn)]() mutable { return run_transaction(fn); });
    co_return co_await std::move(op);
}

lt::Result<void> SqliteDatabase::transact_sync(std::function<lt::Result<void>(SqlSession&)> fn) {
    return run_transaction(fn);
}

lt::Result<void> SqliteDatabase::run_transaction(std::function<lt::Result<void>(SqlSession&)>& fn) {
    if (!fn) return fail(Errc::invalid_argument, "transaction body is empty");
    if (t_running == this) {
        return fail(Errc::internal, "nested transaction on the same sqlite database (would deadlock)");
    }
    std::lock_guard lock(mutex_);
    RunningMark mark(this);
    try {
        // IMMEDIATE takes the write lock up front: two writers can never both hold a read lock and
        // then deadlock upgrading it (SQLITE_BUSY with no retry).
        if (auto begin = conn_->execute("BEGIN IMMEDIATE", {}); !begin) return fail(begin.error());

        Result<void> result = ok();
        try {
            SqliteSession session(*conn_, this);
            result = fn(session);
        } catch (const std::exception& e) {
            result = fail(Errc::internal, std::string("transaction body threw: ") + e.what());
        } catch (...) {
            result = fail(Errc::internal, "transaction body threw");
        }
        if (!result) {
            conn_->rollback();
            return result;
        }
        if (!conn_->in_transaction()) {
            return fail(Errc::internal, "sqlite rolled the transaction back after an error");
        }
        if (auto commit = conn_->execute("COMMIT", {}); !commit) {
            conn_->rollback();
            return fail(commit.error());
        }
        return ok();
    } catch (const std::exception& e) {
        conn_->rollback();
        return fail(Errc::internal, std::string("sqlite transaction failed: ") + e.what());
    }
}

lt::Result<void> SqliteDatabase::execute_script(SqlSession& session, std::string_view script) {
    auto* own = dynamic_cast<SqliteSession*>(&session);
    if (!own || own->owner() != this) {
        return fail(Errc::invalid_argument, "execute_script() needs a session of this sqlite database");
    }
    try {
        auto r = own->connection().execute_script(script);
        if (r && !own->connection().in_transaction()) {
            return fail(Errc::invalid_argument, "a script must not end its transaction (COMMIT/ROLLBACK)");
        }
        return r;
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("sqlite script failed: ") + e.what());
    }
}

}  // namespace lt::adapters
