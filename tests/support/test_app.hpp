#pragma once
/// Starts the whole application in-process on a free port with a private data directory.

#include "support/env_overrides.hpp"
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
        if (options.load && options.load->file) load.file = options.load->file;  // a test's --config file
        auto dir = data_dir ? *data_dir : dir_.path();
        load.overrides = {"server.port=0", "server.address=127.0.0.1", "storage.data-dir=" + dir.string(),
                          "log.level=warn", "log.access=false", "server.threads=2",
                          // Every bus message through its codec, as between processes (docs/configuration.md).
                          "bus.codec-check=true"};
        for (auto& o : overrides) load.overrides.push_back(std::move(o));
        for (auto& o : env_extra_overrides()) load.overrides.push_back(std::move(o));
        isolate_postgres(load.overrides, dir);
        isolate_network_stores(load.overrides, dir);
        auto cfg = config::load(app::full_schema(), load);
        options.load = load;  // POST /actuator/refresh reads the same layers again
        REQUIRE_MESSAGE(cfg, (cfg ? "" : cfg.error().message));
        options.handle_signals = options.handle_signals && true;
        config_ = *cfg;
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
    /// A setting of this app's configuration (e.g. its event topics, which differ per app on Kafka).
    std::string setting(std::string_view key, std::string fallback = {}) const {
        return config_.get_string(key, std::move(fallback));
    }

private:
    TempDir dir_;
    config::Config config_;
    std::unique_ptr<app::App> app_;
};

}  // namespace lt::test
