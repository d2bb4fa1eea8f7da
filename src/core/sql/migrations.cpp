// SqlDatabase helpers shared by every adapter: column accessors, the migration runner and the parser
// of the migrations embedded in the binary.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <exception>
#include <set>
#include <string>
#include <utility>

#include "lt/core/embedded.hpp"
#include "lt/core/time.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::ports {

std::optional<std::int64_t> as_int(const SqlValue& v) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
    return std::nullopt;
}

std::optional<double> as_double(const SqlValue& v) {
    if (const auto* d = std::get_if<double>(&v)) return *d;
    return std::nullopt;
}

std::optional<std::string> as_text(const SqlValue& v) {
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    return std::nullopt;
}

namespace {

// Portable between SQLite and PostgreSQL: plain types, composite primary key, IF NOT EXISTS.
constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS lt_schema_migrations ("
    "module TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, "
    "PRIMARY KEY (module, version))";

/// Key of the PostgreSQL advisory lock that migration runners take in turn ("lt-migr" in ASCII).
constexpr std::int64_t kMigrationLockKey = 0x6c742d6d69677221;

/// On PostgreSQL, runners in every process take turns (a transaction-scoped advisory lock), so
/// processes starting at once never collide in the catalog; the record's primary key still decides
/// which runner applies a version. A no-op on SQLite (BEGIN IMMEDIATE serializes already).
Result<void> take_turn(SqlDatabase& db, SqlSession& s) {
    if (db.dialect() != "postgres") return ok();
    auto r = s.execute("SELECT pg_advisory_xact_lock($1)", {SqlValue(kMigrationLockKey)});
    if (!r) return fail(r.error());
    return ok();
}

Result<void> ensure_table(SqlDatabase& db) {
    auto create = [&db](SqlSession& s) -> Result<void> {
        if (auto turn = take_turn(db, s); !turn) return turn;
        auto r = s.execute(kCreateTable);
        if (!r) return fail(r.error());
        return ok();
    };
    auto r = db.transact_sync(create);
    // Two PostgreSQL runners creating the table at once can collide on the catalog; the loser
    // retries and then sees the table.
    if (!r && r.error().code == Errc::conflict) r = db.transact_sync(create);
    return r;
}

Result<std::set<std::int64_t>> applied_versions(SqlDatabase& db, std::string_view module) {
    std::set<std::int64_t> versions;
    auto r = db.transact_sync([&](SqlSession& s) -> Result<void> {
        versions.clear();
        auto rows = s.execute("SELECT version FROM lt_schema_migrations WHERE module = $1",
                              {SqlValue(std::string(module))});
        if (!rows) return fail(rows.error());
        for (const auto& row : rows->rows) {
            if (auto v = row.empty() ? std::nullopt : as_int(row[0])) versions.insert(*v);
        }
        return ok();
    });
    if (!r) return fail(r.error());
    return versions;
}

/// Outcome of applying one migration.
enum class Applied { now, already };

Result<Applied> apply_one(SqlDatabase& db, std::string_view module, const Migration& m) {
    bool already = false;
    auto r = db.transact_sync([&](SqlSession& s) -> Result<void> {
        already = false;  // the body may run again (PostgreSQL retries)
        if (auto turn = take_turn(db, s); !turn) return turn;
        // The record goes in first: a concurrent runner holding the same version makes this insert
        // conflict (or wait for it, then conflict), so the script runs exactly once.
        auto rec = s.execute(
            "INSERT INTO lt_schema_migrations (module, version, name, applied_at) VALUES ($1, $2, $3, $4)",
            {SqlValue(std::string(module)), SqlValue(std::int64_t{m.version}), SqlValue(m.name),
             SqlValue(format_rfc3339(std::chrono::system_clock::now()))});
        if (!rec) {
            already = rec.error().code == Errc::conflict;
            return fail(rec.error());
        }
        return db.execute_script(s, m.sql);
    });
    if (r) return Applied::now;
    if (already) return Applied::already;
    return fail(r.error().code, "migration " + std::string(module) + "/" + std::to_string(m.version) + "_" +
                                    m.name + " failed: " + r.error().message);
}

}  // namespace

Result<int> run_migrations(SqlDatabase& db, std::string_view module, std::span<const Migration> migrations) {
    try {
        std::vector<const Migration*> ordered;
        ordered.reserve(migrations.size());
        for (const auto& m : migrations) {
            if (m.version < 1) {
                return fail(Errc::invalid_argument,
                            "invalid migration for module " + std::string(module) + ": " + m.name);
            }
            ordered.push_back(&m);
        }
        std::sort(ordered.begin(), ordered.end(),
                  [](const Migration* a, const Migration* b) { return a->version < b->version; });
        for (std::size_t i = 1; i < ordered.size(); ++i) {
            if (ordered[i]->version == ordered[i - 1]->version) {
                return fail(Errc::invalid_argument, "duplicate migration version " +
                                                        std::to_string(ordered[i]->version) + " for module " +
                                                        std::string(module));
            }
        }

        if (auto r = ensure_table(db); !r) return fail(r.error());
        auto done = applied_versions(db, module);
        if (!done) return fail(done.error());

        int applied = 0;
        for (const Migration* m : ordered) {
            if (done->contains(m->version)) continue;
            auto r = apply_one(db, module, *m);
            if (!r) return fail(r.error());
            if (*r == Applied::now) ++applied;
        }
        return applied;
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("migration runner failed: ") + e.what());
    }
}

namespace {

/// Splits "NNNN_name.sql" into (version, name); nullopt when malformed.
std::optional<std::pair<int, std::string>> parse_file_name(std::string_view file) {
    constexpr std::string_view kExt = ".sql";
    if (file.size() <= kExt.size() || !file.ends_with(kExt)) return std::nullopt;
    std::string_view stem = file.substr(0, file.size() - kExt.size());
    const auto underscore = stem.find('_');
    if (underscore == std::string_view::npos || underscore == 0 || underscore + 1 == stem.size()) {
        return std::nullopt;
    }
    std::string_view digits = stem.substr(0, underscore);
    int version = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
    if (ec != std::errc() || end != digits.data() + digits.size() || version < 1) return std::nullopt;
    return std::make_pair(version, std::string(stem.substr(underscore + 1)));
}

}  // namespace

Result<std::vector<Migration>> parse_migration_files(
    std::span<const std::pair<std::string_view, std::string_view>> files, std::string_view module,
    std::string_view dialect) {
    const std::string prefix = std::string(module) + "/" + std::string(dialect) + "/";
    std::vector<Migration> out;
    for (const auto& [path, content] : files) {
        if (!path.starts_with(prefix)) continue;
        std::string_view file = path.substr(prefix.size());
        auto parsed = file.find('/') == std::string_view::npos ? parse_file_name(file) : std::nullopt;
        if (!parsed) {
            return fail(Errc::invalid_argument,
                        "migration file " + std::string(path) + " is not named <module>/<dialect>/NNNN_<name>.sql");
        }
        out.push_back(Migration{parsed->first, std::move(parsed->second), std::string(content)});
    }
    std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
    for (std::size_t i = 1; i < out.size(); ++i) {
        if (out[i].version == out[i - 1].version) {
            return fail(Errc::invalid_argument, "duplicate migration version " + std::to_string(out[i].version) +
                                                    " in " + prefix);
        }
    }
    return out;
}

std::vector<Migration> embedded_migrations(std::string_view module, std::string_view dialect) {
    const auto files = lt::embedded::migration_files();
    auto parsed = parse_migration_files(files, module, dialect);
    if (parsed) return std::move(*parsed);
    // Version 0 makes run_migrations() refuse to start with this message.
    return {Migration{0, parsed.error().message, ""}};
}

}  // namespace lt::ports
