#pragma once
/// PostgresConnection: one libpq connection with its prepared-statement cache and transaction runner
/// (private to the adapter). Used by one thread at a time: the pool slot that owns it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "lt/adapters/postgres_database.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

struct pg_conn;
struct pg_result;

namespace lt::adapters {

/// How one run of a transaction ended.
enum class TxOutcome {
    committed,           ///< COMMIT succeeded
    failed,              ///< the body or a statement failed for good: rolled back, error returned
    retry,               ///< serialization failure or deadlock: rolled back, safe to run again
    lost_before_commit,  ///< the connection broke before COMMIT was sent: nothing committed
    lost_in_commit,      ///< the connection broke during COMMIT: the outcome is unknown
};

class PostgresConnection {
public:
    /// Connects (blocking, up to the connect timeout) and applies the session settings.
    /// Errc::invalid_argument for a malformed URL, Errc::unavailable when the server cannot be reached
    /// or refuses the connection.
    static lt::Result<std::unique_ptr<PostgresConnection>> connect(const std::string& url, const PostgresOptions& opts);
    /// Closes the connection (PQfinish).
    ~PostgresConnection();
    PostgresConnection(const PostgresConnection&) = delete;
    PostgresConnection& operator=(const PostgresConnection&) = delete;

    /// Runs one statement with `$N` parameters through the prepared-statement cache.
    lt::Result<lt::ports::SqlResult> execute(std::string_view sql, std::span<const lt::ports::SqlValue> params);
    /// Prepares what is not prepared yet (a round trip each, once per connection), then sends every
    /// statement in pipeline mode with one Sync and reads the answers: one round trip for the lot.
    /// See SqlSession::execute_pipeline.
    std::vector<lt::Result<lt::ports::SqlResult>> execute_pipeline(std::span<const lt::ports::SqlStatement> statements);
    /// Runs a script of several statements without parameters (simple query protocol).
    lt::Result<void> execute_script(std::string_view script);
    /// BEGIN, `fn`, COMMIT (or ROLLBACK). `owner` identifies the database for execute_script().
    /// The error is set unless the outcome is `committed`.
    TxOutcome run_transaction(std::function<lt::Result<void>(lt::ports::SqlSession&)>& fn,
                              const PostgresDatabase* owner, lt::Error& error);
    /// True once the connection is known broken (lost, timed out): it must be replaced.
    bool broken() const;
    /// For an idle connection: reads what the server sent meanwhile (a shutdown or termination notice)
    /// without blocking and tells whether the connection is now broken.
    bool idle_broken();
    /// True while a transaction block is open and not failed.
    bool in_transaction() const;
    /// Statements prepared on this connection.
    std::size_t cached_statements() const { return cache_.size(); }

private:
    struct ResultDeleter {
        void operator()(pg_result* r) const;
    };
    using ResultPtr = std::unique_ptr<pg_result, ResultDeleter>;

    PostgresConnection(pg_conn* conn, std::chrono::milliseconds io_timeout);
    /// Sends with `send` (non-blocking libpq call returning 1 on success) and collects every result
    /// within io_timeout_; returns the first failed result, else the last one. On a timeout or a lost
    /// connection returns null and marks the connection broken; `error` is set whenever the command
    /// failed.
    ResultPtr round_trip(const std::function<int(pg_conn*)>& send, lt::Error& error);
    /// Waits until the socket is readable (or writable) before `deadline`; false on timeout/failure.
    bool wait_socket(bool for_write, std::chrono::steady_clock::time_point deadline);
    /// The Errc of a failed result (also remembers serialization failures for the transaction).
    lt::Error error_of(const pg_result* res, std::string_view what);
    lt::Error lost(std::string_view what);
    /// Simple command without parameters (BEGIN, COMMIT, ROLLBACK, SET, scripts).
    ResultPtr command(std::string_view sql, lt::Error& error);
    /// The name of the prepared statement for `sql` with these parameter types, preparing it (one
    /// round trip) when this connection has not yet; nullptr and `error` when that failed.
    const std::string* prepared(std::string_view sql, std::span<const lt::ports::SqlValue> params, lt::Error& error);
    /// Flushes what libpq buffered, waiting for the socket up to `deadline`. False (and `error`) when
    /// the connection failed or the deadline passed.
    bool flush_until(std::chrono::steady_clock::time_point deadline, lt::Error& error);
    /// The next result, waiting for the socket up to `deadline` (nullptr at the end of a query's
    /// results, or with `error` set when the connection failed or the deadline passed).
    pg_result* next_result(std::chrono::steady_clock::time_point deadline, lt::Error& error);
    void rollback() noexcept;

    pg_conn* conn_;
    std::chrono::milliseconds io_timeout_;
    bool broken_ = false;
    bool retryable_ = false;  ///< a serialization failure or deadlock happened in this transaction
    std::uint64_t next_name_ = 0;
    std::unordered_map<std::string, std::string> cache_;  ///< (SQL + type signature) -> statement name
    bool begin_pending_ = false;  ///< run_transaction() began: BEGIN goes out with the first statement
};

/// The session handed to a transaction body: statements on the connection holding the transaction.
class PostgresSession final : public lt::ports::SqlSession {
public:
    PostgresSession(PostgresConnection& conn, const PostgresDatabase* owner) : conn_(conn), owner_(owner) {}

    using SqlSession::execute;
    lt::Result<lt::ports::SqlResult> execute(std::string_view sql, std::span<const lt::ports::SqlValue> params) override;
    std::vector<lt::Result<lt::ports::SqlResult>> execute_pipeline(
        std::span<const lt::ports::SqlStatement> statements) override;

    /// The connection, for execute_script().
    PostgresConnection& connection() { return conn_; }
    /// The database that opened this session.
    const PostgresDatabase* owner() const { return owner_; }

private:
    PostgresConnection& conn_;
    const PostgresDatabase* owner_;
};

}  // namespace lt::adapters
