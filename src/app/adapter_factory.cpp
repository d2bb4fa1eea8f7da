#include "adapter_factory.hpp"

#include <filesystem>

#include "lt/adapters/memory_event_log.hpp"
#include "lt/adapters/memory_key_value_store.hpp"
#include "lt/adapters/sql_usage_store.hpp"
#include "lt/adapters/sqlite_database.hpp"
#include "lt/core/log.hpp"
#if LT_WITH_REDIS
#include "lt/adapters/redis_key_value_store.hpp"
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

Result<Adapters> make_adapters(const config::Config& cfg, BlockingPool& pool, Clock& clock,
                               boost::asio::any_io_executor io) {
    Adapters a;
    const auto sql_driver = cfg.get_string("storage.sql.driver", "sqlite");
    if (sql_driver != "sqlite") {
        return fail(Errc::invalid_argument, "storage.sql.driver '" + sql_driver + "' is not compiled into this build");
    }
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

    const auto kv_driver = cfg.get_string("storage.kv.driver", "memory");
    if (kv_driver == "memory") {
        a.kv = std::make_unique<adapters::MemoryKeyValueStore>(clock);
#if LT_WITH_REDIS
    } else if (kv_driver == "redis") {
        const auto url = cfg.get_string("storage.kv.url", "");
        if (url.empty()) return fail(Errc::invalid_argument, "storage.kv.driver is redis but storage.kv.url is unset");
        adapters::RedisOptions options;
        options.pool_size = static_cast<std::size_t>(cfg.get_int("storage.kv.pool-size", 4));
        options.timeout = cfg.get_duration("storage.kv.timeout", std::chrono::milliseconds(500));
        options.log = make_logger("redis", cfg.get_string("log.level", "info"));
        auto kv = adapters::RedisKeyValueStore::open(io, url, std::move(options));
        if (!kv) return fail(kv.error());
        a.kv = std::move(*kv);
#endif
    } else {
        return fail(Errc::invalid_argument, "storage.kv.driver '" + kv_driver + "' is not compiled into this build");
    }

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
