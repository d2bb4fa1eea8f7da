#pragma once
/// Module: one capability hosted by `leaky-tokens serve`, and the context it is built from.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "lt/core/log.hpp"
#include "lt/core/result.hpp"

namespace lt {
class BlockingPool;
class Clock;
class MetricsRegistry;
class Tracer;
namespace bus {
class Bus;
}
namespace config {
class Config;
}
namespace http {
class Router;
class Server;
class Client;
}  // namespace http
namespace cluster {
class Directory;
class Forwarder;
class KernelDispatcher;
}  // namespace cluster
namespace ports {
class SqlDatabase;
class KeyValueStore;
class EventLog;
class UsageStore;
}  // namespace ports

/// Everything a module may use. Pointers are owned by the application and outlive the module.
/// Ports a profile does not provide are null.
struct ModuleContext {
    boost::asio::io_context* io = nullptr;     ///< the I/O context (N threads)
    BlockingPool* blocking = nullptr;          ///< for synchronous drivers
    bus::Bus* bus = nullptr;
    const config::Config* config = nullptr;    ///< the whole validated configuration
    Clock* clock = nullptr;
    MetricsRegistry* metrics = nullptr;
    Logger log;                                ///< this module's logger
    Tracer* tracer = nullptr;                  ///< spans (tracing.*); null or disabled: none
    http::Client* http_client = nullptr;       ///< outbound HTTP with connection reuse
    ports::SqlDatabase* sql = nullptr;
    ports::KeyValueStore* kv = nullptr;
    ports::EventLog* events = nullptr;
    ports::UsageStore* usage = nullptr;        ///< analytics' event store
    http::Router* routes = nullptr;            ///< the route table (read-only after registration)
    http::Server* server = nullptr;            ///< the public listener (the kernel starts it)
    /// The kernel's root handler: the gateway installs its dispatch as the public handler, and asks
    /// whether a route's owner is hosted here.
    cluster::KernelDispatcher* kernel = nullptr;
    /// Split mode (registry.url set): where the other processes' modules are. Null in one process.
    cluster::Directory* directory = nullptr;
    /// Split mode: signed calls to instances of modules hosted elsewhere. Null in one process.
    cluster::Forwarder* forwarder = nullptr;
    std::vector<std::string> hosted;           ///< names of the modules this process hosts
};

/// One capability. No I/O in the constructor.
class Module {
public:
    virtual ~Module() = default;
    /// Stable name: "gateway", "token", ... Also the owner of its routes.
    virtual std::string_view name() const = 0;
    /// Adds the module's public routes (pure registration; see the module's routes.cpp).
    virtual void register_routes(http::Router& router) { (void)router; }
    /// Registers bus command handlers and event subscriptions.
    virtual void register_handlers(bus::Bus& bus) { (void)bus; }
    /// Opens pools, migrates, starts background jobs. Runs on an I/O thread.
    virtual boost::asio::awaitable<Result<void>> start() = 0;
    /// Drains within the shutdown deadline. Called in reverse start order.
    virtual boost::asio::awaitable<void> stop() = 0;
    /// Applies a refreshed configuration without a restart (POST /actuator/refresh,
    /// config.changed.v1): `next` is the whole new configuration, `changed` the keys whose values
    /// differ from the running one. Returns the keys of `changed` it applied (the others are reported
    /// as "restart required" unless another module applied them). Runs on an I/O thread, after start,
    /// never concurrently with itself; must not block. Default: applies nothing.
    virtual std::vector<std::string> refresh(const config::Config& next, const std::vector<std::string>& changed) {
        (void)next;
        (void)changed;
        return {};
    }
};

}  // namespace lt
