#include "config_refresh.hpp"

#include <algorithm>
#include <set>

#include <boost/json.hpp>

#include "lt/core/actuator.hpp"
#include "lt/http/errors.hpp"
#include "module_list.hpp"
#include "remote_config.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace lt::app {

namespace {

/// The module a key belongs to, by its first segment (feature.flags.<m>.* by its third); "" for the
/// kernel's own keys.
std::string owner_of(std::string_view key) {
    auto first = key.substr(0, key.find('.'));
    if (first == "feature") {
        auto rest = key.substr(std::min(key.size(), std::string_view("feature.flags.").size()));
        auto flag_owner = rest.substr(0, rest.find('.'));
        return flag_owner == "token-service" ? "token" : std::string(flag_owner);
    }
    // registry.url, registry.fetch-interval, config.url are the kernel's, read by every process.
    if (key == "registry.url" || key == "registry.fetch-interval" || key == "registry.heartbeat-interval" ||
        key == "config.url") {
        return "";
    }
    for (const auto& spec : module_list()) {
        if (first == spec.name) return std::string(first);
    }
    if (first == "providers") return "providers";
    return "";
}

json::array to_array(const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
}

}  // namespace

std::vector<std::string> changed_keys(const config::Config& a, const config::Config& b) {
    std::vector<std::string> out;
    const auto& x = a.entries();
    const auto& y = b.entries();
    for (const auto& [k, v] : x) {
        auto it = y.find(k);
        if (it == y.end() || it->second != v) out.push_back(k);
    }
    for (const auto& [k, v] : y) {
        if (x.find(k) == x.end()) out.push_back(k);
    }
    std::sort(out.begin(), out.end());
    return out;
}

ConfigRefresher::ConfigRefresher(Options options, bus::Bus& bus, BlockingPool& blocking, http::ClusterGuard guard,
                                 Logger log)
    : options_(std::move(options)), bus_(bus), blocking_(blocking), guard_(std::move(guard)), log_(std::move(log)) {}

void ConfigRefresher::register_route(http::Router& router) {
    // Public like all of /actuator/** (CONTRACT 5): the gateway reads the credentials and the handler
    // requires ADMIN (or a cluster signature) itself.
    router.add("kernel", "POST", std::string(kRefreshPath), [this](http::Request r) { return handle(std::move(r)); },
               http::RouteOptions{http::Access::optional, "actuator"});
}

void ConfigRefresher::register_handlers(bus::Bus& bus) {
    bus.subscribe(bus::kConfigChanged, "kernel",
                  [this](bus::ConfigChanged e, bus::Context c) { return on_changed(std::move(e), std::move(c)); });
}

Result<config::Config> ConfigRefresher::reload(config::Config running) const {
    if (!options_.load) return fail(Errc::unavailable, "this process was not started with reloadable configuration");
    config::LoadOptions load = *options_.load;
    if (!running.get_string("config.url").empty()) {
        auto remote = fetch_remote_config(running, options_.profile);
        if (!remote) return fail(Errc::unavailable, remote.error().message);
        load.remote = std::move(*remote);
    }
    auto next = config::load(full_schema(), load);
    if (!next) return fail(Errc::invalid_argument, next.error().message);
    return next;
}

asio::awaitable<Result<RefreshOutcome>> ConfigRefresher::refresh(bool announce, bus::Context ctx) {
    config::Config running;
    {
        std::lock_guard lock(mutex_);
        running = options_.current;
    }
    auto op = blocking_.run([this, running]() { return reload(running); });
    auto next = co_await std::move(op);
    if (!next) co_return fail(next.error());

    RefreshOutcome out;
    {
        std::lock_guard lock(mutex_);
        const auto changed = changed_keys(options_.current, *next);
        std::set<std::string> applied;
        for (auto* m : options_.modules) {
            for (auto& k : m->refresh(*next, changed)) applied.insert(std::move(k));
        }
        for (const auto& k : changed) {
            if (applied.count(k)) {
                out.changed.push_back(k);
                continue;
            }
            const auto owner = owner_of(k);
            const bool hosted_here = owner.empty() || std::find(options_.hosted.begin(), options_.hosted.end(),
                                                                owner) != options_.hosted.end();
            if (hosted_here) out.restart_required.push_back(k);
        }
        options_.current = std::move(*next);
    }
    if (!out.changed.empty() || !out.restart_required.empty()) {
        log_->info("configuration refreshed applied=[{}] restart_required=[{}]",
                   json::serialize(to_array(out.changed)), json::serialize(to_array(out.restart_required)));
    }
    if (announce && !out.changed.empty()) {
        if (auto r = bus_.publish(bus::kConfigChanged, bus::ConfigChanged{out.changed, options_.process_id}, ctx); !r) {
            log_->warn("config.changed.v1 not published error={}", r.error().message);
        }
    }
    co_return out;
}

asio::awaitable<Result<void>> ConfigRefresher::on_changed(bus::ConfigChanged event, bus::Context ctx) {
    if (event.origin == options_.process_id) co_return ok();
    auto op = refresh(false, std::move(ctx));
    auto r = co_await std::move(op);
    if (!r) {
        log_->warn("refresh after config.changed.v1 failed origin={} error={}", event.origin, r.error().message);
        co_return fail(r.error());
    }
    co_return ok();
}

asio::awaitable<http::Response> ConfigRefresher::handle(http::Request req) {
    http::Caller caller;
    if (auto refused = guard_.require_admin_or_signed(req, caller)) co_return std::move(*refused);
    auto op = refresh(true, req.ctx);
    auto r = co_await std::move(op);
    if (!r) co_return http::error_response(r.error(), req.path);
    co_return http::Response::json(
        200, json::object{{"changed", to_array(r->changed)}, {"restartRequired", to_array(r->restart_required)}});
}

}  // namespace lt::app
