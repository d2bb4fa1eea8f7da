#pragma once
/// SqlDatabase contract suite: the backends it runs against and small helpers. The cases live in
/// sql_database_contract_test.cpp and run once per type of SqlContractBackends (each case is a doctest
/// template, so ctest shows "case name<backend>"). Adding an adapter = one backend struct here, added
/// to the tuples (guarded by its LT_WITH_* option), nothing else.

#include "support/temp_dir.hpp"
#include <atomic>
#include <concepts>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

#include <doctest/doctest.h>
#include <unistd.h>

#include "lt/adapters/sqlite_database.hpp"
#if LT_WITH_POSTGRES
#include "support/postgres_schema.hpp"
#endif
#include "lt/core/blocking_pool.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::test {

using TempDir = lt::test::TempDir;

/// What the suite needs from a backend. One instance = one fresh, empty database; `open()` returns a
/// handle on it (callable several times); `kShared` says whether two handles reach the same data
/// (needed by the persistence and cross-handle cases).
template <class B>
concept SqlContractBackend = requires(B backend, lt::BlockingPool& pool) {
    { backend.open(pool) } -> std::same_as<lt::Result<std::unique_ptr<lt::ports::SqlDatabase>>>;
    { B::kShared } -> std::convertible_to<bool>;
};

/// SQLite on a file in a temp dir, under folders that do not exist yet (the adapter creates them).
struct SqliteFileBackend {
    static constexpr bool kShared = true;
    TempDir dir{"sql"};

    /// A handle on this backend's file.
    lt::Result<std::unique_ptr<lt::ports::SqlDatabase>> open(lt::BlockingPool& pool) {
        auto db = lt::adapters::SqliteDatabase::open(dir.path() / "nested" / "data" / "contract.db", pool);
        if (!db) return lt::fail(db.error());
        return std::unique_ptr<lt::ports::SqlDatabase>(std::move(*db));
    }
};

/// SQLite in memory: every handle is its own private database.
struct SqliteMemoryBackend {
    static constexpr bool kShared = false;

    /// A new in-memory database.
    lt::Result<std::unique_ptr<lt::ports::SqlDatabase>> open(lt::BlockingPool& pool) {
        auto db = lt::adapters::SqliteDatabase::open(":memory:", pool);
        if (!db) return lt::fail(db.error());
        return std::unique_ptr<lt::ports::SqlDatabase>(std::move(*db));
    }
};

static_assert(SqlContractBackend<SqliteFileBackend> && SqlContractBackend<SqliteMemoryBackend>);

#if LT_WITH_POSTGRES
/// PostgreSQL (LT_TEST_POSTGRES_URL): every backend instance is a fresh schema, every handle a
/// PostgresDatabase with a pool of 4 connections on it. The BlockingPool is not used (the adapter
/// has its own connection threads). Skipped (visible MESSAGE) when the variable is unset.
struct PostgresBackend {
    static constexpr bool kShared = true;
    PostgresSchema schema;

    /// Why the cases must be skipped, or nullptr.
    const char* skip_reason() const { return schema.enabled() ? nullptr : kNoPostgres; }

    /// A new handle on this backend's schema.
    lt::Result<std::unique_ptr<lt::ports::SqlDatabase>> open(lt::BlockingPool&) {
        auto db = lt::adapters::PostgresDatabase::open(schema.url(), 4);
        if (!db) return lt::fail(db.error());
        return std::unique_ptr<lt::ports::SqlDatabase>(std::move(*db));
    }
};
static_assert(SqlContractBackend<PostgresBackend>);

/// Every backend: runs the whole suite.
using SqlContractBackends = std::tuple<SqliteFileBackend, SqliteMemoryBackend, PostgresBackend>;
/// Backends whose handles share data: persistence and cross-handle races.
using SqlSharedContractBackends = std::tuple<SqliteFileBackend, PostgresBackend>;
#else
/// Every backend: runs the whole suite.
using SqlContractBackends = std::tuple<SqliteFileBackend, SqliteMemoryBackend>;
/// Backends whose handles share data: persistence and cross-handle races.
using SqlSharedContractBackends = std::tuple<SqliteFileBackend>;
#endif

/// True (after a visible MESSAGE) when `backend` cannot run here, e.g. its server is not configured.
/// Every case starts with `if (skipped(backend)) return;`.
template <class B>
bool skipped(const B& backend) {
    if constexpr (requires { backend.skip_reason(); }) {
        if (const char* why = backend.skip_reason()) {
            MESSAGE(why);
            std::printf("SKIPPED: %s\n", why);
            std::fflush(stdout);
            return true;
        }
    }
    return false;
}

/// Opens a handle or fails the test.
template <SqlContractBackend B>
std::unique_ptr<lt::ports::SqlDatabase> must_open(B& backend, lt::BlockingPool& pool) {
    auto db = backend.open(pool);
    REQUIRE_MESSAGE(db.has_value(), (db ? std::string() : db.error().message));
    return std::move(*db);
}

/// One statement in its own transaction.
inline lt::Result<lt::ports::SqlResult> run_sql(lt::ports::SqlDatabase& db, std::string_view sql,
                                                std::initializer_list<lt::ports::SqlValue> params = {}) {
    lt::ports::SqlResult out;
    auto r = db.transact_sync([&](lt::ports::SqlSession& s) -> lt::Result<void> {
        auto res = s.execute(sql, std::span<const lt::ports::SqlValue>(params.begin(), params.size()));
        if (!res) return lt::fail(res.error());
        out = std::move(*res);
        return lt::ok();
    });
    if (!r) return lt::fail(r.error());
    return out;
}

/// Runs one statement that must succeed and returns its result.
inline lt::ports::SqlResult must_sql(lt::ports::SqlDatabase& db, std::string_view sql,
                                     std::initializer_list<lt::ports::SqlValue> params = {}) {
    auto r = run_sql(db, sql, params);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
    return std::move(*r);
}

/// The single integer a query returns (e.g. a COUNT), or -1 when it returns something else.
inline std::int64_t scalar(lt::ports::SqlDatabase& db, std::string_view sql,
                           std::initializer_list<lt::ports::SqlValue> params = {}) {
    auto r = must_sql(db, sql, params);
    if (r.rows.size() != 1 || r.rows[0].size() != 1) return -1;
    return lt::ports::as_int(r.rows[0][0]).value_or(-1);
}

/// True when a table of that name exists (portable: a failing SELECT).
inline bool table_exists(lt::ports::SqlDatabase& db, std::string_view table) {
    return run_sql(db, "SELECT COUNT(*) FROM " + std::string(table)).has_value();
}

}  // namespace lt::test

TYPE_TO_STRING_AS("sqlite-file", lt::test::SqliteFileBackend);
TYPE_TO_STRING_AS("sqlite-memory", lt::test::SqliteMemoryBackend);
#if LT_WITH_POSTGRES
TYPE_TO_STRING_AS("postgres", lt::test::PostgresBackend);
#endif
