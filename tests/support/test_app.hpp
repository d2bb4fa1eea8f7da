#pragma once
/// Starts the whole application in-process on a free port with a private data directory.

#include "support/temp_dir.hpp"
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "app.hpp"
#include "module_list.hpp"
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


/// The environment's extra overrides (LT_TEST_EXTRA_SET; PostgreSQL isolated per `data_dir` as for a
/// TestApp on that directory) as ` --set 'k=v'` arguments of a leaky-tokens command line.
inline std::string extra_set_args(const std::filesystem::path& data_dir) {
    auto extra = env_extra_overrides();
    isolate_postgres(extra, data_dir);
    std::string out;
    for (const auto& o : extra) out += " --set '" + o + "'";
    return out;
}

/// Overrides that let requests without credentials through the gateway, for tests of the kernel and
/// of modules that are not about identity.
inline std::vector<std::string> open_gateway(std::vector<std::string> overrides = {}) {
    overrides.push_back("gateway.security.permit-all=true");
    return overrides;
}

class TestApp {
public:
    /// `overrides`: extra "key=value" settings on top of port 0, a temp data dir and quiet logs.
    explicit TestApp(std::vector<std::string> overrides = {}, app::AppOptions options = {},
                     std::optional<std::filesystem::path> data_dir = std::nullopt) {
        config::LoadOptions load;
        load.read_env = false;
        auto dir = data_dir ? *data_dir : dir_.path();
        load.overrides = {"server.port=0", "server.address=127.0.0.1", "storage.data-dir=" + dir.string(),
                          "log.level=warn", "log.access=false", "server.threads=2"};
        for (auto& o : overrides) load.overrides.push_back(std::move(o));
        for (auto& o : env_extra_overrides()) load.overrides.push_back(std::move(o));
        isolate_postgres(load.overrides, dir);
        auto cfg = config::load(app::full_schema(), load);
        REQUIRE_MESSAGE(cfg, (cfg ? "" : cfg.error().message));
        options.handle_signals = options.handle_signals && true;
        auto a = app::App::create(std::move(*cfg), options);
        REQUIRE_MESSAGE(a, (a ? "" : a.error().message));
        app_ = std::move(*a);
        auto started = app_->start();
        REQUIRE_MESSAGE(started, (started ? "" : started.error().message));
    }
    ~TestApp() {
        if (app_) {
            app_->shutdown();
            app_->wait();
        }
    }
    std::uint16_t port() const { return app_->port(); }
    app::App& app() { return *app_; }

private:
    TempDir dir_;
    std::unique_ptr<app::App> app_;
};

}  // namespace lt::test
