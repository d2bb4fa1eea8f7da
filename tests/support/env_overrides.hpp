#pragma once
/// Settings a whole test run takes from the environment (LT_TEST_EXTRA_SET), and the isolation that
/// lets many apps of one run share the test servers: a PostgreSQL schema per data directory, a Redis
/// database emptied at each start, Kafka topics per data directory. Used by TestApp (in-process) and
/// ServerProcess (`leaky-tokens serve` children) alike.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#if LT_WITH_POSTGRES
#include "lt/adapters/postgres_database.hpp"
#endif

namespace lt::test {

/// "k=v" overrides from the environment variable LT_TEST_EXTRA_SET ("k=v;k=v"; empty parts ignored),
/// applied by every TestApp after its own: scripts/run-with-env.sh sets it to run the integration
/// suite again on PostgreSQL (storage.sql.driver=postgres;storage.sql.url=...).
inline std::vector<std::string> env_extra_overrides() {
    std::vector<std::string> out;
    const char* env = std::getenv("LT_TEST_EXTRA_SET");
    if (!env) return out;
    std::string all = env;
    std::size_t start = 0;
    while (start <= all.size()) {
        auto end = all.find(';', start);
        if (end == std::string::npos) end = all.size();
        if (end > start) out.push_back(all.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

/// With storage.sql.driver=postgres among `overrides`: points storage.sql.url at a schema of its own
/// for `data_dir` (created when missing), so that every TestApp starts on empty tables like it does on
/// a fresh SQLite file, and one restarted on the same data directory finds its data again.
inline void isolate_postgres(std::vector<std::string>& overrides, const std::filesystem::path& data_dir) {
    const std::string url_key = "storage.sql.url=";
    const bool postgres = std::find(overrides.begin(), overrides.end(), "storage.sql.driver=postgres") != overrides.end();
    auto url = std::find_if(overrides.begin(), overrides.end(), [&](const std::string& o) { return o.starts_with(url_key); });
    if (!postgres || url == overrides.end()) return;
#if LT_WITH_POSTGRES
    const std::string base = url->substr(url_key.size());
    char name[40];
    std::snprintf(name, sizeof name, "lt_app_%016zx", std::hash<std::string>{}(data_dir.string()));
    auto admin = lt::adapters::PostgresDatabase::open(base, 1);
    REQUIRE_MESSAGE(admin, (admin ? std::string() : admin.error().message));
    auto created = (*admin)->transact_sync([&name](lt::ports::SqlSession& s) -> lt::Result<void> {
        auto r = s.execute(std::string("CREATE SCHEMA IF NOT EXISTS ") + name);
        if (!r) return lt::fail(r.error());
        return lt::ok();
    });
    REQUIRE_MESSAGE(created, (created ? std::string() : created.error().message));
    *url = url_key + base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + name;
#else
    FAIL("LT_TEST_EXTRA_SET asks for PostgreSQL, which is not compiled into this build");
#endif
}

/// With storage.kv.driver=redis among `overrides`: empties that Redis database (TestApps of one run
/// follow each other, so each starts without the previous one's buckets and edge counters). With
/// storage.events.driver=kafka: topics and consumer groups of this TestApp's own (suffixed by
/// `data_dir`), so events of an earlier TestApp never reach this one's consumers.
inline void isolate_network_stores(std::vector<std::string>& overrides, const std::filesystem::path& data_dir) {
    auto value_of = [&](std::string_view key) -> std::string {
        std::string found;
        for (const auto& o : overrides) {
            if (o.size() > key.size() && o.compare(0, key.size(), key) == 0 && o[key.size()] == '=') {
                found = o.substr(key.size() + 1);
            }
        }
        return found;
    };
    if (value_of("storage.kv.driver") == "redis") {
        const auto url = value_of("storage.kv.url");
        REQUIRE_MESSAGE(std::system(("redis-cli -u '" + url + "' FLUSHDB >/dev/null").c_str()) == 0, url);
    }
    if (value_of("storage.events.driver") == "kafka") {
        char suffix[24];
        std::snprintf(suffix, sizeof suffix, "-%016zx", std::hash<std::string>{}(data_dir.string()));
        for (const auto* key : {"token.usage.topic=token-usage", "token.purchase.topic=token-purchase-events",
                                "analytics.token-usage.topic=token-usage",
                                "analytics.purchase-events.topic=token-purchase-events"}) {
            overrides.push_back(std::string(key) + suffix);
        }
        // Groups of their own too: a member an earlier app left behind must not hold this app's
        // rebalance until its session times out.
        overrides.push_back(std::string("analytics.token-usage.group=analytics") + suffix);
        overrides.push_back(std::string("token.saga.compensation.group=token-payments") + suffix);
    }
}

/// How much longer a test waits for an event to travel outbox → relay → event log → consumer: 1 on
/// the memory event log, 4 on Kafka (a new consumer group's first join takes about 3 s on the mock
/// cluster, then records arrive within one poll).
inline int event_patience_factor() {
    for (const auto& o : env_extra_overrides()) {
        if (o == "storage.events.driver=kafka") return 4;
    }
    return 1;
}

/// Everything the environment adds for an app on `data_dir`, isolated as above.
inline std::vector<std::string> environment_overrides(const std::filesystem::path& data_dir) {
    auto extra = env_extra_overrides();
    isolate_postgres(extra, data_dir);
    isolate_network_stores(extra, data_dir);
    return extra;
}

/// The same as ` --set 'k=v'` arguments of a leaky-tokens command line.
inline std::string extra_set_args(const std::filesystem::path& data_dir) {
    std::string out;
    for (const auto& o : environment_overrides(data_dir)) out += " --set '" + o + "'";
    return out;
}

}  // namespace lt::test
