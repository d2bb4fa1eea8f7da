#pragma once
/// UsageStore contract suite: the backends it runs against and helpers. The cases live in
/// usage_store_contract_test.cpp and run once per type of UsageContractBackends (doctest templates:
/// ctest shows "case name<backend>"). Adding an adapter = one backend struct here, added to the tuple
/// (guarded by its LT_WITH_* option).

#include "support/temp_dir.hpp"

#include <chrono>
#include <concepts>
#include <cstdio>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <doctest/doctest.h>

#include "lt/adapters/sql_usage_store.hpp"
#include "lt/adapters/sqlite_database.hpp"
#if LT_WITH_POSTGRES
#include "support/postgres_schema.hpp"
#endif
#include "lt/core/blocking_pool.hpp"
#include "lt/ports/usage_store.hpp"

namespace lt::test {

/// A backend owns one fresh, migrated store.
template <class B>
concept UsageContractBackend = requires(B backend) {
    { backend.store() } -> std::same_as<lt::ports::UsageStore&>;
};

/// SqlUsageStore on a SQLite file (WAL, as in production).
struct SqliteFileUsageBackend {
    TempDir dir{"usage"};
    lt::BlockingPool pool{1};
    std::unique_ptr<lt::ports::SqlDatabase> db;
    std::unique_ptr<lt::ports::UsageStore> store_;

    SqliteFileUsageBackend() {
        auto opened = lt::adapters::SqliteDatabase::open(dir.path() / "usage.db", pool);
        REQUIRE_MESSAGE(opened, (opened ? std::string() : opened.error().message));
        db = std::move(*opened);
        store_ = std::make_unique<lt::adapters::SqlUsageStore>(*db);
        auto migrated = store_->migrate();
        REQUIRE_MESSAGE(migrated, (migrated ? std::string() : migrated.error().message));
    }
    lt::ports::UsageStore& store() { return *store_; }
};

/// SqlUsageStore on a private in-memory SQLite database.
struct SqliteMemoryUsageBackend {
    lt::BlockingPool pool{1};
    std::unique_ptr<lt::ports::SqlDatabase> db;
    std::unique_ptr<lt::ports::UsageStore> store_;

    SqliteMemoryUsageBackend() {
        auto opened = lt::adapters::SqliteDatabase::open(":memory:", pool);
        REQUIRE_MESSAGE(opened, (opened ? std::string() : opened.error().message));
        db = std::move(*opened);
        store_ = std::make_unique<lt::adapters::SqlUsageStore>(*db);
        auto migrated = store_->migrate();
        REQUIRE_MESSAGE(migrated, (migrated ? std::string() : migrated.error().message));
    }
    lt::ports::UsageStore& store() { return *store_; }
};

static_assert(UsageContractBackend<SqliteFileUsageBackend> && UsageContractBackend<SqliteMemoryUsageBackend>);

#if LT_WITH_POSTGRES
/// SqlUsageStore on PostgreSQL (LT_TEST_POSTGRES_URL), in a fresh schema per case; skipped (visible
/// MESSAGE) when the variable is unset.
struct PostgresUsageBackend {
    PostgresSchema schema;
    std::unique_ptr<lt::ports::SqlDatabase> db;
    std::unique_ptr<lt::ports::UsageStore> store_;

    PostgresUsageBackend() {
        if (!schema.enabled()) return;
        auto opened = lt::adapters::PostgresDatabase::open(schema.url(), 4);
        REQUIRE_MESSAGE(opened, (opened ? std::string() : opened.error().message));
        db = std::move(*opened);
        store_ = std::make_unique<lt::adapters::SqlUsageStore>(*db);
        auto migrated = store_->migrate();
        REQUIRE_MESSAGE(migrated, (migrated ? std::string() : migrated.error().message));
    }
    /// Why the cases must be skipped, or nullptr.
    const char* skip_reason() const { return schema.enabled() ? nullptr : kNoPostgres; }
    lt::ports::UsageStore& store() { return *store_; }
};
static_assert(UsageContractBackend<PostgresUsageBackend>);

using UsageContractBackends = std::tuple<SqliteFileUsageBackend, SqliteMemoryUsageBackend, PostgresUsageBackend>;
#else
using UsageContractBackends = std::tuple<SqliteFileUsageBackend, SqliteMemoryUsageBackend>;
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

/// 2026-01-01T00:00:00Z, a minute boundary.
inline const lt::ports::UsageTime kT0 = lt::ports::UsageTime(std::chrono::seconds(1767225600));

inline lt::ports::UsageTime at_ms(std::int64_t ms_after_t0) { return kT0 + std::chrono::milliseconds(ms_after_t0); }

/// A usage event with a fresh id (`n` makes it unique and readable).
inline lt::ports::UsageEvent usage(std::int64_t n, std::string user, std::string provider, std::int64_t tokens,
                                   bool allowed, lt::ports::UsageTime when) {
    lt::ports::UsageEvent e;
    char id[40];
    std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012lld", static_cast<long long>(n));
    e.event_id = id;
    e.user_id = std::move(user);
    e.provider = std::move(provider);
    e.tokens = tokens;
    e.allowed = allowed;
    e.outcome = allowed ? "allowed" : "rate_limited";
    e.occurred_at = when;
    return e;
}

/// Stores or fails the test; returns how many were new.
inline std::size_t must_store(lt::ports::UsageStore& store, const std::vector<lt::ports::UsageEvent>& events) {
    auto r = store.store_usage(events);
    REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message));
    return *r;
}

}  // namespace lt::test

TYPE_TO_STRING_AS("sqlite-file", lt::test::SqliteFileUsageBackend);
TYPE_TO_STRING_AS("sqlite-memory", lt::test::SqliteMemoryUsageBackend);
#if LT_WITH_POSTGRES
TYPE_TO_STRING_AS("postgres", lt::test::PostgresUsageBackend);
#endif
