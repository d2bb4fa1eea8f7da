#pragma once
/// SqliteConnection: one sqlite3 handle with its prepared-statement cache (private to the adapter).

#include <cstddef>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lt/adapters/sqlite_database.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace lt::adapters {

/// An open SQLite connection. Not thread-safe: the owner serializes every call.
class SqliteConnection {
public:
    /// Opens `file` (":memory:" for a private in-memory database), creating parent folders, and
    /// applies the pragmas (WAL, synchronous=NORMAL, foreign_keys=ON) and the busy timeout.
    static lt::Result<std::unique_ptr<SqliteConnection>> open(const std::filesystem::path& file,
                                                              const SqliteOptions& opts);
    /// Finalizes the cached statements and closes the handle.
    ~SqliteConnection();
    SqliteConnection(const SqliteConnection&) = delete;
    SqliteConnection& operator=(const SqliteConnection&) = delete;

    /// Runs one statement with `$N` parameters through the statement cache.
    lt::Result<lt::ports::SqlResult> execute(std::string_view sql, std::span<const lt::ports::SqlValue> params);
    /// Runs a script of several statements without parameters (sqlite3_exec).
    lt::Result<void> execute_script(std::string_view script);
    /// True while a transaction is open (SQLite may roll one back by itself after some errors).
    bool in_transaction() const;
    /// Rolls back the open transaction, if any; errors are ignored (nothing left to undo).
    void rollback() noexcept;
    /// Number of statements currently cached.
    std::size_t cached_statements() const { return cache_.size(); }

private:
    /// A cached prepared statement and how its parameter slots map to `$N` arguments.
    struct Statement {
        sqlite3_stmt* stmt = nullptr;
        std::vector<std::size_t> arg_of_slot;  ///< slot i+1 binds params[arg_of_slot[i]]
        std::size_t arg_count = 0;             ///< highest N of the `$N` placeholders
        std::list<std::string>::iterator lru;  ///< position in lru_
    };

    SqliteConnection(sqlite3* db, std::size_t cache_capacity);
    lt::Result<Statement*> prepare(std::string_view sql);
    lt::Error error_from(int rc, std::string_view what) const;

    sqlite3* db_;
    std::size_t cache_capacity_;
    /// Hash that lets the cache be searched with a string_view (no allocation on a hit).
    struct SqlHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
    };

    std::unordered_map<std::string, Statement, SqlHash, std::equal_to<>> cache_;  ///< by SQL text
    std::list<std::string> lru_;                        ///< SQL texts, most recently used first
};

}  // namespace lt::adapters
