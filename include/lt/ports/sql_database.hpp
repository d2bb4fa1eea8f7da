#pragma once
/// SqlDatabase port: transactions of parameterized statements. Adapters: SqliteDatabase (embedded),
/// PostgresDatabase (production). Statements use `$1, $2, ...` placeholders in every dialect.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "lt/core/result.hpp"

namespace lt::ports {

/// A bound parameter or a column value. Text also carries UUIDs and RFC 3339 timestamps.
using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string>;
using SqlRow = std::vector<SqlValue>;

struct SqlResult {
    std::vector<std::string> columns;
    std::vector<SqlRow> rows;
    std::int64_t affected = 0;  ///< rows changed by INSERT/UPDATE/DELETE
};

/// Helpers to read a column of a row (nullopt when NULL or another type).
std::optional<std::int64_t> as_int(const SqlValue& v);
std::optional<double> as_double(const SqlValue& v);
std::optional<std::string> as_text(const SqlValue& v);

/// Statements inside one open transaction. Valid only during the transact() callback; used by the
/// one thread running it.
/// One statement of SqlSession::execute_pipeline(): its text and parameters, valid during the call.
struct SqlStatement {
    std::string_view sql;
    std::span<const SqlValue> params;
};

class SqlSession {
public:
    virtual ~SqlSession() = default;
    /// Runs one statement. Constraint violations → Errc::conflict; other failures → Errc::internal.
    virtual Result<SqlResult> execute(std::string_view sql, std::span<const SqlValue> params = {}) = 0;

    Result<SqlResult> execute(std::string_view sql, std::initializer_list<SqlValue> params) {
        return execute(sql, std::span<const SqlValue>(params.begin(), params.size()));
    }

    /// Runs `statements` in order, as execute() would one after the other, and returns one result
    /// per statement. A network adapter sends them all before it reads the first answer (PostgreSQL's
    /// pipeline mode: one round trip for the lot). The first failure ends the run: the statements
    /// after it report Errc::unavailable "not run" (on PostgreSQL the failure aborts the transaction
    /// anyway). The default runs execute() for each.
    virtual std::vector<Result<SqlResult>> execute_pipeline(std::span<const SqlStatement> statements) {
        std::vector<Result<SqlResult>> out;
        out.reserve(statements.size());
        bool failed = false;
        for (const auto& st : statements) {
            if (failed) {
                out.push_back(fail(Errc::unavailable, "not run: an earlier statement of the pipeline failed"));
                continue;
            }
            out.push_back(execute(st.sql, st.params));
            failed = !out.back();
        }
        return out;
    }
};

/// One schema migration: version number, name, and the SQL script (may hold several statements).
struct Migration {
    int version = 0;
    std::string name;
    std::string sql;
};

class SqlDatabase {
public:
    virtual ~SqlDatabase() = default;

    /// "sqlite" or "postgres": selects migrations/<module>/<dialect>/.
    virtual std::string_view dialect() const = 0;

    /// Runs `fn` in one transaction on the blocking pool: commit when it returns success, roll back
    /// when it returns an error. Callable from any coroutine; the caller resumes on its executor.
    /// `fn` must be re-runnable: a network adapter runs it again (in a new transaction) after a
    /// serialization failure, a deadlock or a connection lost before COMMIT, so it may only change
    /// state outside the database in ways a rerun overwrites.
    virtual boost::asio::awaitable<Result<void>> transact(std::function<Result<void>(SqlSession&)> fn) = 0;

    /// The same, blocking the calling thread (start-up, CLI, tests; never on an I/O thread).
    virtual Result<void> transact_sync(std::function<Result<void>(SqlSession&)> fn) = 0;

    /// Runs a script of several statements without parameters inside `session`'s transaction
    /// (used by migrations).
    virtual Result<void> execute_script(SqlSession& session, std::string_view script) = 0;

    /// False while the database is known unreachable (a network adapter lost its connections and has
    /// not reconnected yet); embedded databases are always available. Cheap, never blocks: readiness
    /// probes (component `db`) call it from any thread.
    virtual bool available() const { return true; }
};

/// Applies the `migrations` of `module` not yet recorded in table `lt_schema_migrations`, each in its
/// own transaction, in version order. Safe to re-run and to race (a version is applied once).
/// Returns how many were applied now.
Result<int> run_migrations(SqlDatabase& db, std::string_view module, std::span<const Migration> migrations);

/// The migrations compiled into the binary from migrations/<module>/<dialect>/NNNN_<name>.sql.
/// A malformed file name or a duplicate version yields an entry with version 0 and the problem as its
/// name, which run_migrations() refuses (so a bad file stops start-up instead of being skipped).
std::vector<Migration> embedded_migrations(std::string_view module, std::string_view dialect);

/// Parser behind embedded_migrations(): picks the (path, content) files under `<module>/<dialect>/`
/// named `NNNN_<name>.sql` (version NNNN > 0, non-empty name) and sorts them by version. Errors
/// (Errc::invalid_argument) on a malformed name or a duplicate version inside that folder.
Result<std::vector<Migration>> parse_migration_files(
    std::span<const std::pair<std::string_view, std::string_view>> files, std::string_view module,
    std::string_view dialect);

}  // namespace lt::ports
