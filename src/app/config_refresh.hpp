#pragma once
/// ConfigRefresher: POST /actuator/refresh on any process (Spring Cloud's refresh endpoint) and the
/// config.changed.v1 event that makes the other processes follow.
///
/// A refresh re-fetches `config.url` (when set), re-reads the local configuration (the same --config,
/// profile, LEAKY_SET and --set as at start), diffs it against the running one by key, and hands the
/// changed keys to every hosted module (Module::refresh), which applies the refreshable ones without a
/// restart. The answer: 200 {"changed": [applied keys], "restartRequired": [changed keys nobody could
/// apply]}; a configuration that no longer validates → 400 naming the problems, nothing applied.
/// When it applied anything it publishes config.changed.v1; a process receiving another's event runs
/// the same refresh (without announcing again). Thread-safe; refreshes are serialized.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "lt/bus/bus.hpp"
#include "lt/bus/kernel_events.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/config.hpp"
#include "lt/core/log.hpp"
#include "lt/core/module.hpp"
#include "lt/http/cluster_guard.hpp"
#include "lt/http/router.hpp"

namespace lt::app {

struct RefreshOutcome {
    std::vector<std::string> changed;           ///< keys applied, sorted
    std::vector<std::string> restart_required;  ///< keys changed but applied by no module, sorted
};

/// The keys whose values differ between `a` and `b` (set in one only, or different), sorted.
std::vector<std::string> changed_keys(const config::Config& a, const config::Config& b);

class ConfigRefresher {
public:
    struct Options {
        config::Config current;                    ///< the running configuration
        std::optional<config::LoadOptions> load;   ///< how it was loaded (null: only config.url is re-fetched)
        std::string profile;                       ///< for config.url
        std::vector<Module*> modules;              ///< the hosted modules (outlive the refresher)
        std::vector<std::string> hosted;           ///< their names
        std::string process_id;                    ///< origin of this process's config.changed.v1 events
    };
    /// `bus`, `blocking` outlive the refresher; `guard` admits ADMIN principals and signed calls.
    ConfigRefresher(Options options, bus::Bus& bus, BlockingPool& blocking, http::ClusterGuard guard, Logger log);

    /// Adds POST /actuator/refresh (owner "kernel").
    void register_route(http::Router& router);
    /// Subscribes to config.changed.v1 (group "kernel").
    void register_handlers(bus::Bus& bus);

    /// Reloads and applies; publishes config.changed.v1 when `announce` and something was applied.
    /// Errc::invalid_argument when the new configuration does not validate, Errc::unavailable when
    /// config.url cannot be fetched. Any I/O thread.
    boost::asio::awaitable<Result<RefreshOutcome>> refresh(bool announce, bus::Context ctx);

private:
    boost::asio::awaitable<http::Response> handle(http::Request req);
    boost::asio::awaitable<Result<void>> on_changed(bus::ConfigChanged event, bus::Context ctx);
    /// Loads the configuration again (blocking: files and config.url).
    Result<config::Config> reload(config::Config running) const;

    Options options_;
    bus::Bus& bus_;
    BlockingPool& blocking_;
    http::ClusterGuard guard_;
    Logger log_;
    std::mutex mutex_;  ///< guards options_.current and serializes applying
};

}  // namespace lt::app
