// The composition root's adapter table: one row per {port, driver} with the factory that opens it.
// The only file that knows concrete adapters, and the only one with LT_WITH_* guards.
#include "adapter_factory.hpp"

#include <filesystem>
#include <functional>
#include <string_view>

#include "lt/adapters/memory_event_log.hpp"
#include "lt/adapters/memory_key_value_store.hpp"
#include "lt/adapters/sql_usage_store.hpp"
#include "lt/adapters/sqlite_database.hpp"
#include "lt/core/log.hpp"
#if LT_WITH_POSTGRES
#include "lt/adapters/postgres_database.hpp"
#endif
#if LT_WITH_REDIS
#include "lt/adapters/redis_key_value_store.hpp"
#endif
#if LT_WITH_KAFKA
#include "lt/adapters/kafka_event_log.hpp"
#endif

namespace lt::app {

namespace {

/// What a factory may use besides the configuration.
struct FactoryContext {
    const config::Config& cfg;
    BlockingPool& pool;
    Clock& clock;
    boost::asio::any_io_executor io;
};

/// One row: the port it fills ("sql", "kv", "events"), the driver name, and the factory.
struct AdapterRow {
    std::string_view port;
    std::string_view driver;
    std::function<Result<void>(const FactoryContext&, Adapters&)> open;
};

/// storage.sql.driver=sqlite: the main database file, and the usage store's own file (analytics
/// ingest batches then never hold the lock that the consume path's group commits wait for).
Result<void> open_sqlite(const FactoryContext& f, Adapters& a) {
    std::filesystem::path data_dir = f.cfg.get_string("storage.data-dir", "./var");
    auto in_data_dir = [&](std::filesystem::path file) {
        if (file != ":memory:" && file.is_relative()) file = data_dir / file;
        return file;
    };
    {
        // The data dir holds the databases (and their keys): the owner's alone (issue 15 item 4). New
        // ones are 0700 through the umask main() sets; an existing one is tightened here.
        std::error_code ec;
        if (std::filesystem::is_directory(data_dir, ec)) {
            std::filesystem::permissions(data_dir, std::filesystem::perms::owner_all,
                                         std::filesystem::perm_options::replace, ec);
        }
    }
    auto db = adapters::SqliteDatabase::open(in_data_dir(f.cfg.get_string("storage.sql.path", "leaky-tokens.db")), f.pool);
    if (!db) return fail(db.error());
    a.sql = std::move(*db);
    const auto usage_path = f.cfg.get_string("storage.usage.path", "analytics.db");
    if (!usage_path.empty()) {
        auto usage_db = adapters::SqliteDatabase::open(in_data_dir(usage_path), f.pool);
        if (!usage_db) return fail(usage_db.error());
        a.usage_sql = std::move(*usage_db);
    }
    a.usage = std::make_unique<adapters::SqlUsageStore>(a.usage_sql ? *a.usage_sql : *a.sql);
    return ok();
}

#if LT_WITH_POSTGRES
/// storage.sql.driver=postgres: the main database on storage.sql.url with storage.sql.pool-size
/// connections; the usage store on the same database unless storage.usage.url names its own.
Result<void> open_postgres(const FactoryContext& f, Adapters& a) {
    const auto url = f.cfg.get_string("storage.sql.url");
    if (url.empty()) return fail(Errc::invalid_argument, "storage.sql.url must be set for storage.sql.driver=postgres");
    const auto pool_size = static_cast<std::size_t>(f.cfg.get_int("storage.sql.pool-size", 8));
    auto db = adapters::PostgresDatabase::open(url, pool_size);
    if (!db) return fail(db.error().code, "storage.sql.url: " + db.error().message);
    a.sql = std::move(*db);
    const auto usage_url = f.cfg.get_string("storage.usage.url");
    if (!usage_url.empty()) {
        auto usage_db = adapters::PostgresDatabase::open(usage_url, 2);
        if (!usage_db) return fail(usage_db.error().code, "storage.usage.url: " + usage_db.error().message);
        a.usage_sql = std::move(*usage_db);
    }
    a.usage = std::make_unique<adapters::SqlUsageStore>(a.usage_sql ? *a.usage_sql : *a.sql);
    return ok();
}
#endif

Result<void> open_memory_kv(const FactoryContext& f, Adapters& a) {
    a.kv = std::make_unique<adapters::MemoryKeyValueStore>(f.clock);
    return ok();
}

#if LT_WITH_REDIS
Result<void> open_redis(const FactoryContext& f, Adapters& a) {
    const auto url = f.cfg.get_string("storage.kv.url", "");
    if (url.empty()) return fail(Errc::invalid_argument, "storage.kv.driver is redis but storage.kv.url is unset");
    adapters::RedisOptions options;
    options.pool_size = static_cast<std::size_t>(f.cfg.get_int("storage.kv.pool-size", 4));
    options.timeout = f.cfg.get_duration("storage.kv.timeout", std::chrono::milliseconds(500));
    options.log = make_logger("redis", f.cfg);
    auto kv = adapters::RedisKeyValueStore::open(f.io, url, std::move(options));
    if (!kv) return fail(kv.error());
    a.kv = std::move(*kv);
    return ok();
}
#endif

Result<void> open_memory_events(const FactoryContext& f, Adapters& a) {
    // Consumed records are dropped so memory stays flat; the token module's outbox re-sends what it
    // keeps after a restart, so nothing depends on the in-memory log keeping history.
    a.events = std::make_unique<adapters::MemoryEventLog>(f.clock, 1, true);
    return ok();
}

#if LT_WITH_KAFKA
Result<void> open_kafka(const FactoryContext& f, Adapters& a) {
    adapters::KafkaOptions options;
    options.timeout = f.cfg.get_duration("storage.events.timeout", std::chrono::seconds(5));
    options.default_partitions = static_cast<int>(f.cfg.get_int("storage.events.partitions", 4));
    options.session_timeout = f.cfg.get_duration("storage.events.session-timeout", std::chrono::seconds(10));
    options.logger = make_logger("kafka", f.cfg);
    options.create_topics = f.cfg.get_bool("storage.events.create-topics", true);
    auto log = adapters::KafkaEventLog::open(f.cfg.get_string("storage.events.brokers"), std::move(options));
    if (!log) return fail(log.error());
    a.events = std::move(*log);
    return ok();
}
#endif

/// Every compiled adapter. Adding one is one row (and its #if).
const std::vector<AdapterRow>& adapter_table() {
    static const std::vector<AdapterRow> kRows{
        {"sql", "sqlite", &open_sqlite},
#if LT_WITH_POSTGRES
        {"sql", "postgres", &open_postgres},
#endif
        {"kv", "memory", &open_memory_kv},
#if LT_WITH_REDIS
        {"kv", "redis", &open_redis},
#endif
        {"events", "memory", &open_memory_events},
#if LT_WITH_KAFKA
        {"events", "kafka", &open_kafka},
#endif
    };
    return kRows;
}

Result<void> open_port(const FactoryContext& f, Adapters& a, std::string_view port, const std::string& driver) {
    for (const auto& row : adapter_table()) {
        if (row.port == port && row.driver == driver) return row.open(f, a);
    }
    return fail(Errc::invalid_argument,
                "storage." + std::string(port) + ".driver '" + driver + "' is not compiled into this build");
}

}  // namespace

std::vector<std::string> compiled_adapters() {
    std::vector<std::string> out;
    for (const auto& row : adapter_table()) out.push_back(std::string(row.port) + ":" + std::string(row.driver));
    return out;
}

Result<Adapters> make_adapters(const config::Config& cfg, BlockingPool& pool, Clock& clock,
                               boost::asio::any_io_executor io) {
    Adapters a;
    const FactoryContext f{cfg, pool, clock, std::move(io)};
    if (auto r = open_port(f, a, "sql", cfg.get_string("storage.sql.driver", "sqlite")); !r) return fail(r.error());
    if (auto r = open_port(f, a, "kv", cfg.get_string("storage.kv.driver", "memory")); !r) return fail(r.error());
    if (auto r = open_port(f, a, "events", cfg.get_string("storage.events.driver", "memory")); !r) return fail(r.error());
    return a;
}

}  // namespace lt::app
