#pragma once
/// Test harness of the quota layer: a temporary SQLite file with the token migrations, a blocking
/// pool, a GroupCommitter, QuotaService and OrgService, a FakeClock, and helpers to run awaitables
/// and to read rows back.

#include "support/temp_dir.hpp"
#include <doctest/doctest.h>

#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "lt/adapters/sqlite_database.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/time.hpp"
#include "lt/ports/sql_database.hpp"
#include "quota/event_id.hpp"
#include "quota/group_committer.hpp"
#include "quota/org_service.hpp"
#include "quota/pool_store.hpp"
#include "quota/quota_service.hpp"

namespace lt::token::test {

namespace asio = boost::asio;

using TempDir = lt::test::TempDir;

/// Runs `aw` to completion on the main thread's io_context and returns its value (rethrows its
/// exception). The io_context lives until the program exits: the group-commit and blocking-pool
/// threads post completions to it, and asio's poster may still be signalling its condition variable
/// after run() returned, so it must outlive those threads.
template <class T>
T run(asio::awaitable<T> aw) {
    static asio::io_context ioc;
    ioc.restart();
    std::optional<T> out;
    std::exception_ptr error;
    asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T value) {
        error = e;
        if (!e) out.emplace(std::move(value));
    });
    ioc.run();
    if (error) std::rethrow_exception(error);
    return std::move(*out);
}

/// Everything the quota layer needs, over one SQLite file. Destroyed in reverse order: the services,
/// then the committer (which drains), then the database.
struct QuotaHarness {
    explicit QuotaHarness(const std::filesystem::path& file, QuotaOptions options = {}, std::size_t max_batch = 256)
        : blocking(4) {
        auto opened = adapters::SqliteDatabase::open(file, blocking);
        REQUIRE_MESSAGE(opened, (opened ? "" : opened.error().message));
        db = std::move(*opened);
        auto migrations = ports::embedded_migrations("token", db->dialect());
        auto applied = ports::run_migrations(*db, "token", migrations);
        REQUIRE_MESSAGE(applied, (applied ? "" : applied.error().message));
        committer = std::make_unique<GroupCommitter>(*db, max_batch);
        quota = std::make_unique<QuotaService>(*db, blocking, *committer, options);
        orgs = std::make_unique<OrgService>(*db, blocking);
    }

    /// Runs one statement in its own transaction and returns its result.
    ports::SqlResult query(std::string_view sql, std::initializer_list<ports::SqlValue> params = {}) {
        std::vector<ports::SqlValue> p(params);
        ports::SqlResult out;
        auto r = db->transact_sync([&](ports::SqlSession& s) -> Result<void> {
            auto q = s.execute(sql, std::span<const ports::SqlValue>(p));
            if (!q) return fail(q.error());
            out = std::move(*q);
            return ok();
        });
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        return out;
    }

    /// One integer read by a query of a single value.
    std::int64_t scalar(std::string_view sql, std::initializer_list<ports::SqlValue> params = {}) {
        auto r = query(sql, params);
        REQUIRE(r.rows.size() == 1);
        return ports::as_int(r.rows[0][0]).value_or(-1);
    }

    /// The stored pool of `key` (nullopt when absent).
    std::optional<StoredPool> stored(const PoolKey& key) {
        std::optional<StoredPool> out;
        auto r = db->transact_sync([&](ports::SqlSession& s) -> Result<void> {
            auto p = load_pool(s, QuotaService::normalized(key));
            if (!p) return fail(p.error());
            out = std::move(*p);
            return ok();
        });
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        return out;
    }

    std::int64_t outbox_rows() { return scalar("SELECT COUNT(*) FROM token_outbox"); }

    /// Waits until every unit queued so far has committed (units commit in order).
    void flush() { REQUIRE(committer->submit_sync([](ports::SqlSession&) { return ok(); })); }

    FakeClock clock;
    BlockingPool blocking;
    std::unique_ptr<adapters::SqliteDatabase> db;
    std::unique_ptr<GroupCommitter> committer;
    std::unique_ptr<QuotaService> quota;
    std::unique_ptr<OrgService> orgs;
};

/// A usage-like outbox row.
inline OutboxRow usage_row(std::chrono::system_clock::time_point now, std::string payload = "{}") {
    OutboxRow row;
    row.id = new_event_id();
    row.aggregate_type = "TokenUsage";
    row.event_type = "token.usage.v1";
    row.payload = std::move(payload);
    row.created_at = now;
    return row;
}

inline PoolKey user_key(std::string provider = "openai") { return PoolKey{OwnerType::user, new_uuid(), std::move(provider)}; }
inline PoolKey org_key(std::string provider = "openai") { return PoolKey{OwnerType::org, new_uuid(), std::move(provider)}; }

}  // namespace lt::token::test
