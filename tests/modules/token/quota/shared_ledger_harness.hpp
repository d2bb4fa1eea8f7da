#pragma once
/// Test harness of the shared quota mode: one "process" = its own SqlDatabase connection, blocking pool,
/// GroupCommitter and SharedQuotaLedger. Several of them over ONE database simulate several `serve`
/// processes. The database is a SQLite file, or PostgreSQL when LT_TEST_POSTGRES_URL is set and the
/// PostgreSQL adapter is compiled in (not yet on this branch: SQLite only).

#include <filesystem>
#include <memory>

#include "quota_harness.hpp"
#include "quota/shared_quota_ledger.hpp"

namespace lt::token::test {

/// One simulated process over `file`. The first one also applies the migrations.
struct LedgerProcess {
    LedgerProcess(const std::filesystem::path& file, SharedLedgerOptions options = {}, std::size_t max_batch = 256)
        : blocking(4) {
        auto opened = adapters::SqliteDatabase::open(file, blocking);
        REQUIRE_MESSAGE(opened, (opened ? "" : opened.error().message));
        db = std::move(*opened);
        auto migrations = ports::embedded_migrations("token", db->dialect());
        auto applied = ports::run_migrations(*db, "token", migrations);
        REQUIRE_MESSAGE(applied, (applied ? "" : applied.error().message));
        committer = std::make_unique<GroupCommitter>(*db, max_batch);
        ledger = std::make_unique<SharedQuotaLedger>(*db, blocking, *committer, options);
    }

    /// One integer read by a query of a single value.
    std::int64_t scalar(std::string_view sql, std::initializer_list<ports::SqlValue> params = {}) {
        std::vector<ports::SqlValue> p(params);
        std::int64_t out = -1;
        auto r = db->transact_sync([&](ports::SqlSession& s) -> Result<void> {
            auto q = s.execute(sql, std::span<const ports::SqlValue>(p));
            if (!q) return fail(q.error());
            if (!q->rows.empty()) out = ports::as_int(q->rows[0][0]).value_or(-1);
            return ok();
        });
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        return out;
    }

    /// The stored pool of `key`.
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

    /// Waits until every unit queued so far has committed.
    void flush() { REQUIRE(committer->submit_sync([](ports::SqlSession&) { return ok(); })); }

    BlockingPool blocking;
    std::unique_ptr<adapters::SqliteDatabase> db;
    std::unique_ptr<GroupCommitter> committer;
    std::unique_ptr<SharedQuotaLedger> ledger;
};

}  // namespace lt::token::test
