#include "sqlite_connection.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <system_error>
#include <utility>

namespace lt::adapters {

using lt::ports::SqlResult;
using lt::ports::SqlRow;
using lt::ports::SqlValue;

namespace {

bool only_whitespace(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

/// `$N` or `?N` → N (1-based); 0 when the name is anything else (`:name`, `@name`, `$name`).
std::size_t placeholder_number(std::string_view name) {
    if (name.size() < 2 || (name[0] != '$' && name[0] != '?')) return 0;
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(name.data() + 1, name.data() + name.size(), n);
    if (ec != std::errc() || end != name.data() + name.size()) return 0;
    return n;
}

/// Resets a statement and drops its bindings when the step loop ends, whatever the outcome.
class ResetGuard {
public:
    explicit ResetGuard(sqlite3_stmt* stmt) : stmt_(stmt) {}
    ~ResetGuard() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    ResetGuard(const ResetGuard&) = delete;
    ResetGuard& operator=(const ResetGuard&) = delete;

private:
    sqlite3_stmt* stmt_;
};

SqlValue column_value(sqlite3_stmt* stmt, int i) {
    switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER:
            return static_cast<std::int64_t>(sqlite3_column_int64(stmt, i));
        case SQLITE_FLOAT:
            return sqlite3_column_double(stmt, i);
        case SQLITE_TEXT: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
            return std::string(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
        }
        case SQLITE_BLOB: {
            const auto* blob = static_cast<const char*>(sqlite3_column_blob(stmt, i));
            return std::string(blob ? blob : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
        }
        default:
            return nullptr;
    }
}

int bind_value(sqlite3_stmt* stmt, int slot, const SqlValue& value) {
    // The parameters outlive the step loop and the bindings are cleared after it: SQLITE_STATIC is safe.
    return std::visit(
        [&](const auto& v) -> int {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) {
                return sqlite3_bind_null(stmt, slot);
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                return sqlite3_bind_int64(stmt, slot, v);
            } else if constexpr (std::is_same_v<T, double>) {
                return sqlite3_bind_double(stmt, slot, v);
            } else {
                return sqlite3_bind_text64(stmt, slot, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
            }
        },
        value);
}

}  // namespace

SqliteConnection::SqliteConnection(sqlite3* db, std::size_t cache_capacity)
    : db_(db), cache_capacity_(std::max<std::size_t>(cache_capacity, 1)) {}

SqliteConnection::~SqliteConnection() {
    for (auto& [sql, st] : cache_) sqlite3_finalize(st.stmt);
    sqlite3_close_v2(db_);
}

lt::Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(const std::filesystem::path& file,
                                                                     const SqliteOptions& opts) {
    const std::string name = file.string();
    if (name.empty()) return fail(Errc::invalid_argument, "sqlite database path is empty");
    const bool memory = name == ":memory:";
    if (!memory && file.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(file.parent_path(), ec);
        if (ec) {
            return fail(Errc::internal,
                        "cannot create data directory " + file.parent_path().string() + ": " + ec.message());
        }
    }

    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(name.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return fail(Errc::internal, "cannot open sqlite database " + name + ": " + msg);
    }
    std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db, opts.statement_cache_size));
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, static_cast<int>(std::clamp<long long>(opts.busy_timeout.count(), 0, 1 << 30)));

    auto mode = conn->execute("PRAGMA journal_mode=WAL", {});
    if (!mode) return fail(mode.error().code, "cannot enable WAL on " + name + ": " + mode.error().message);
    const auto journal = mode->rows.empty() || mode->rows[0].empty() ? std::nullopt
                                                                     : lt::ports::as_text(mode->rows[0][0]);
    if (!memory && journal != "wal") {
        return fail(Errc::internal, "cannot enable WAL on " + name + ": journal_mode is " + journal.value_or("?"));
    }
    for (const char* pragma : {"PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
        if (auto r = conn->execute(pragma, {}); !r) return fail(r.error());
    }
    if (!memory) {
        // Files made by an older version (or under a looser umask) are the owner's alone from now on
        // (issue 15 item 4); SQLite gives -wal/-shm the database file's mode when it creates them.
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::error_code ec;
            const std::filesystem::path f(name + suffix);
            if (std::filesystem::exists(f, ec)) {
                std::filesystem::permissions(f, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                             std::filesystem::perm_options::replace, ec);
            }
        }
    }
    return conn;
}

lt::Error SqliteConnection::error_from(int rc, std::string_view what) const {
    std::string msg = sqlite3_errmsg(db_);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return {Errc::conflict, "constraint violated: " + msg};
    return {Errc::internal, "sqlite " + std::string(what) + " failed: " + msg};
}

lt::Result<SqliteConnection::Statement*> SqliteConnection::prepare(std::string_view sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        return &it->second;
    }
    if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        return fail(Errc::invalid_argument, "sql statement too long");
    }

    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                                &tail);
    if (rc != SQLITE_OK) return fail(error_from(rc, "prepare"));
    if (!stmt) return fail(Errc::invalid_argument, "empty sql statement");
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owned(stmt, sqlite3_finalize);

    const std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
    if (!only_whitespace(rest)) {
        // Anything but comments after the first statement would be silently ignored by SQLite.
        sqlite3_stmt* next = nullptr;
        rc = sqlite3_prepare_v2(db_, rest.data(), static_cast<int>(rest.size()), &next, nullptr);
        sqlite3_finalize(next);
        if (rc != SQLITE_OK || next) {
            return fail(Errc::invalid_argument, "execute() runs one statement; use execute_script() for several");
        }
    }

    Statement st;
    const int slots = sqlite3_bind_parameter_count(stmt);
    st.arg_of_slot.reserve(static_cast<std::size_t>(slots));
    for (int slot = 1; slot <= slots; ++slot) {
        const char* name = sqlite3_bind_parameter_name(stmt, slot);
        // An anonymous `?` takes the next position, which is its slot number.
        const std::size_t n = name ? placeholder_number(name) : static_cast<std::size_t>(slot);
        if (n == 0) {
            return fail(Errc::invalid_argument,
                        "unsupported sql placeholder " + std::string(name) + " (use $1, $2, ...)");
        }
        st.arg_of_slot.push_back(n - 1);
        st.arg_count = std::max(st.arg_count, n);
    }

    if (cache_.size() >= cache_capacity_) {
        auto victim = cache_.find(lru_.back());
        sqlite3_finalize(victim->second.stmt);
        cache_.erase(victim);
        lru_.pop_back();
    }
    lru_.emplace_front(sql);
    st.stmt = owned.release();
    st.lru = lru_.begin();
    auto [it, inserted] = cache_.emplace(std::string(sql), std::move(st));
    return &it->second;
}

lt::Result<SqlResult> SqliteConnection::execute(std::string_view sql, std::span<const SqlValue> params) {
    auto prepared = prepare(sql);
    if (!prepared) return fail(prepared.error());
    Statement& st = **prepared;
    sqlite3_stmt* stmt = st.stmt;
    ResetGuard guard(stmt);

    if (params.size() != st.arg_count) {
        return fail(Errc::invalid_argument, "sql statement expects " + std::to_string(st.arg_count) +
                                                " parameter(s), got " + std::to_string(params.size()));
    }
    for (std::size_t i = 0; i < st.arg_of_slot.size(); ++i) {
        const int rc = bind_value(stmt, static_cast<int>(i + 1), params[st.arg_of_slot[i]]);
        if (rc != SQLITE_OK) return fail(error_from(rc, "bind"));
    }

    SqlResult out;
    int columns = 0;
    const auto changes_before = sqlite3_total_changes64(db_);
    for (bool first = true;; first = false) {
        const int rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) return fail(error_from(rc, "statement"));
        if (first) {
            // Only now: the first step re-prepares the statement if the schema changed since.
            columns = sqlite3_column_count(stmt);
            out.columns.reserve(static_cast<std::size_t>(columns));
            for (int i = 0; i < columns; ++i) {
                const char* name = sqlite3_column_name(stmt, i);
                out.columns.emplace_back(name ? name : "");
            }
        }
        if (rc == SQLITE_DONE) break;
        SqlRow row;
        row.reserve(static_cast<std::size_t>(columns));
        for (int i = 0; i < columns; ++i) row.push_back(column_value(stmt, i));
        out.rows.push_back(std::move(row));
    }
    // sqlite3_changes64() keeps the count of the last INSERT/UPDATE/DELETE; report it only when this
    // statement changed something.
    out.affected = sqlite3_total_changes64(db_) != changes_before ? sqlite3_changes64(db_) : 0;
    return out;
}

lt::Result<void> SqliteConnection::execute_script(std::string_view script) {
    const std::string text(script);
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return ok();
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return fail(Errc::conflict, "constraint violated: " + msg);
    return fail(Errc::internal, "sqlite script failed: " + msg);
}

bool SqliteConnection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

void SqliteConnection::rollback() noexcept {
    if (!in_transaction()) return;
    // A fresh, uncached exec: this runs on error paths where allocation may already have failed.
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace lt::adapters
