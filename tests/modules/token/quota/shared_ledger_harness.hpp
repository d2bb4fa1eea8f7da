#pragma once
/// Test harness of the shared quota mode: one "process" = its own SqlDatabase connection, blocking pool,
/// GroupCommitter and SharedQuotaLedger. Several of them over ONE database simulate several `serve`
/// processes. The database is a SQLite file, or a fresh schema on the PostgreSQL server of
/// LT_TEST_POSTGRES_URL (scripts/test-servers.sh start; skipped with a message when unset).

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "quota_harness.hpp"
#include "quota/shared_quota_ledger.hpp"
#if LT_WITH_POSTGRES
#include "lt/adapters/postgres_database.hpp"
#include "support/postgres_schema.hpp"
#endif

namespace lt::token::test {

/// Where the simulated processes meet: one SQLite file, or one PostgreSQL schema.
class SharedDatabase {
public:
    /// `backend` is "sqlite" or "postgres" (see backends()).
    explicit SharedDatabase(const std::string& backend) {
#if LT_WITH_POSTGRES
        if (backend == "postgres") pg_ = std::make_unique<lt::test::PostgresSchema>();
#endif
    }
    /// A new connection (pool) to the database, as a new process would open it.
    std::unique_ptr<ports::SqlDatabase> open(BlockingPool& blocking) const {
#if LT_WITH_POSTGRES
        if (pg_) {
            auto db = adapters::PostgresDatabase::open(pg_->url(), 4);
            REQUIRE_MESSAGE(db, (db ? "" : db.error().message));
            return std::move(*db);
        }
#endif
        auto db = adapters::SqliteDatabase::open(dir_.path() / "token.db", blocking);
        REQUIRE_MESSAGE(db, (db ? "" : db.error().message));
        return std::move(*db);
    }

private:
    TempDir dir_;
#if LT_WITH_POSTGRES
    std::unique_ptr<lt::test::PostgresSchema> pg_;
#endif
};

/// "sqlite", plus "postgres" when LT_TEST_POSTGRES_URL is set (else a visible message says it is skipped).
inline std::vector<std::string> backends() {
    std::vector<std::string> out{"sqlite"};
#if LT_WITH_POSTGRES
    if (lt::test::postgres_test_url()) {
        out.emplace_back("postgres");
    } else {
        MESSAGE(lt::test::kNoPostgres);
    }
#else
    MESSAGE("skipped: built without the PostgreSQL adapter (LT_WITH_POSTGRES=OFF)");
#endif
    return out;
}

/// One simulated process on `where`. The first one also applies the migrations.
struct LedgerProcess {
    LedgerProcess(const SharedDatabase& where, SharedLedgerOptions options = {}, std::size_t max_batch = 256)
        : blocking(4) {
        db = where.open(blocking);
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
    /// Waits for everything queued on the committer and on the ledger's own lanes (PostgreSQL).
    void flush() {
        REQUIRE(committer->submit_sync([](ports::SqlSession&) { return ok(); }));
        REQUIRE(ledger->flush_sync());
    }

    BlockingPool blocking;
    std::unique_ptr<ports::SqlDatabase> db;
    std::unique_ptr<GroupCommitter> committer;
    std::unique_ptr<SharedQuotaLedger> ledger;
};

}  // namespace lt::token::test
