#include "adapter_factory.hpp"

#include <filesystem>

#include "lt/adapters/memory_event_log.hpp"
#include "lt/adapters/memory_key_value_store.hpp"
#include "lt/adapters/sql_usage_store.hpp"
#include "lt/adapters/sqlite_database.hpp"
#include "lt/core/log.hpp"
#if LT_WITH_KAFKA
#include "lt/adapters/kafka_event_log.hpp"
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

Result<Adapters> make_adapters(const config::Config& cfg, BlockingPool& pool, Clock& clock) {
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
    if (kv_driver != "memory") {
        return fail(Errc::invalid_argument, "storage.kv.driver '" + kv_driver + "' is not compiled into this build");
    }
    a.kv = std::make_unique<adapters::MemoryKeyValueStore>(clock);

    const auto ev_driver = cfg.get_string("storage.events.driver", "memory");
#if LT_WITH_KAFKA
    if (ev_driver == "kafka") {
        adapters::KafkaOptions options;
        options.timeout = cfg.get_duration("storage.events.timeout", std::chrono::seconds(5));
        options.default_partitions = static_cast<int>(cfg.get_int("storage.events.partitions", 4));
        options.session_timeout = cfg.get_duration("storage.events.session-timeout", std::chrono::seconds(10));
        options.logger = make_logger("kafka", cfg.get_string("log.level", "info"));
        auto log = adapters::KafkaEventLog::open(cfg.get_string("storage.events.brokers"), std::move(options));
        if (!log) return fail(log.error());
        a.events = std::move(*log);
        return a;
    }
#endif
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
