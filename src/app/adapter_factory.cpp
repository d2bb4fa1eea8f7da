#include "adapter_factory.hpp"

#include <filesystem>

#include "lt/adapters/memory_event_log.hpp"
#include "lt/adapters/memory_key_value_store.hpp"
#include "lt/adapters/sql_usage_store.hpp"
#include "lt/adapters/sqlite_database.hpp"
#if LT_WITH_POSTGRES
#include "lt/adapters/postgres_database.hpp"
#endif

namespace lt::app {

std::vector<std::string> compiled_adapters() {
    std::vector<std::string> out{"sql:sqlite", "kv:memory", "events:memory"};
#if LT_WITH_POSTGRES
    out.push_back("sql:postgres");
#endif
#if LT_WITH_REDIS
    out.push_back("kv:redis");
#endif
#if LT_WITH_KAFKA
    out.push_back("events:kafka");
#endif
    return out;
}

namespace {

/// storage.sql.driver=sqlite: the main database file, and the usage store's own file.
Result<void> open_sqlite(const config::Config& cfg, BlockingPool& pool, Adapters& a) {
    std::filesystem::path data_dir = cfg.get_string("storage.data-dir", "./var");
    auto in_data_dir = [&](std::filesystem::path file) {
        if (file != ":memory:" && file.is_relative()) file = data_dir / file;
        return file;
    };
    auto db = adapters::SqliteDatabase::open(in_data_dir(cfg.get_string("storage.sql.path", "leaky-tokens.db")), pool);
    if (!db) return fail(db.error());
    a.sql = std::move(*db);
    // The usage store gets its own SQLite file: analytics ingest batches then never hold the lock
    // that the consume path's group commits wait for.
    const auto usage_path = cfg.get_string("storage.usage.path", "analytics.db");
    if (!usage_path.empty()) {
        auto usage_db = adapters::SqliteDatabase::open(in_data_dir(usage_path), pool);
        if (!usage_db) return fail(usage_db.error());
        a.usage_sql = std::move(*usage_db);
    }
    a.usage = std::make_unique<adapters::SqlUsageStore>(a.usage_sql ? *a.usage_sql : *a.sql);
    return ok();
}

#if LT_WITH_POSTGRES
/// storage.sql.driver=postgres: the main database on storage.sql.url with storage.sql.pool-size
/// connections; the usage store on the same database unless storage.usage.url names its own.
Result<void> open_postgres(const config::Config& cfg, Adapters& a) {
    const auto url = cfg.get_string("storage.sql.url");
    if (url.empty()) return fail(Errc::invalid_argument, "storage.sql.url must be set for storage.sql.driver=postgres");
    const auto pool_size = static_cast<std::size_t>(cfg.get_int("storage.sql.pool-size", 8));
    auto db = adapters::PostgresDatabase::open(url, pool_size);
    if (!db) return fail(db.error().code, "storage.sql.url: " + db.error().message);
    a.sql = std::move(*db);
    const auto usage_url = cfg.get_string("storage.usage.url");
    if (!usage_url.empty()) {
        auto usage_db = adapters::PostgresDatabase::open(usage_url, 2);
        if (!usage_db) return fail(usage_db.error().code, "storage.usage.url: " + usage_db.error().message);
        a.usage_sql = std::move(*usage_db);
    }
    a.usage = std::make_unique<adapters::SqlUsageStore>(a.usage_sql ? *a.usage_sql : *a.sql);
    return ok();
}
#endif

}  // namespace

Result<Adapters> make_adapters(const config::Config& cfg, BlockingPool& pool, Clock& clock) {
    Adapters a;
    const auto sql_driver = cfg.get_string("storage.sql.driver", "sqlite");
#if LT_WITH_POSTGRES
    if (sql_driver == "postgres") {
        if (auto r = open_postgres(cfg, a); !r) return fail(r.error());
    } else
#endif
    if (sql_driver != "sqlite") {
        return fail(Errc::invalid_argument, "storage.sql.driver '" + sql_driver + "' is not compiled into this build");
    } else if (auto r = open_sqlite(cfg, pool, a); !r) {
        return fail(r.error());
    }

    const auto kv_driver = cfg.get_string("storage.kv.driver", "memory");
    if (kv_driver != "memory") {
        return fail(Errc::invalid_argument, "storage.kv.driver '" + kv_driver + "' is not compiled into this build");
    }
    a.kv = std::make_unique<adapters::MemoryKeyValueStore>(clock);

    const auto ev_driver = cfg.get_string("storage.events.driver", "memory");
    if (ev_driver != "memory") {
        return fail(Errc::invalid_argument,
                    "storage.events.driver '" + ev_driver + "' is not compiled into this build");
    }
    // Consumed records are dropped so memory stays flat; the token module's outbox re-sends what it
    // keeps after a restart, so nothing depends on the in-memory log keeping history.
    a.events = std::make_unique<adapters::MemoryEventLog>(clock, 1, true);
    return a;
}

}  // namespace lt::app
