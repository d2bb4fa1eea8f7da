#pragma once
/// KernelDispatcher: the root handler of every process's listener (the kernel owns it, CONTRACT 32).
///
/// - A request carrying X-Lt-Cluster-Signature, or any `/internal/**` request, is a call between
///   processes: it must verify against cluster.secret (else 401 JSON, counted in
///   `cluster_auth_failures_total{reason}` and logged). Verified calls reach:
///     POST /internal/bus/call/<name>     → the local bus command; 200 {"body"} or status + {"code","message"}
///     POST /internal/bus/event/<topic>   → delivered to the local subscribers; 204
///     POST /internal/events/<topic>      → {"key","value"} appended to this process's event log; 200
///     any route of a module hosted here  → its handler, the principal taken only from X-Lt-Principal
/// - Anything else goes to the public handler when one is installed (the gateway), else: `/actuator/**`
///   open, 404/405 for unknown paths, 401 for the hosted modules' routes (signature required).
/// Thread-safe after start; handle() runs on an I/O thread.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "lt/bus/in_process_bus.hpp"
#include "lt/core/log.hpp"
#include "lt/core/metrics.hpp"
#include "lt/http/message.hpp"
#include "lt/http/router.hpp"

namespace lt::ports {
class EventLog;
}  // namespace lt::ports

namespace lt::cluster {

class KernelDispatcher {
public:
    /// `router`, `bus`, `events` (may be null), `metrics` (may be null) outlive the dispatcher.
    /// `hosted`: the module names this process hosts. `secret`: cluster.secret (empty: every signed call
    /// is refused).
    KernelDispatcher(const http::Router& router, bus::InProcessBus& bus, ports::EventLog* events,
                     std::vector<std::string> hosted, std::string secret, MetricsRegistry* metrics, Logger log);

    /// Installs the handler of unsigned requests (the gateway's dispatch). Before the listener starts.
    void set_public_handler(http::Handler handler);
    /// True when `module` is hosted by this process ("kernel" always is).
    bool hosts(std::string_view module) const;
    /// The root handler.
    boost::asio::awaitable<http::Response> handle(http::Request req);

private:
    boost::asio::awaitable<http::Response> internal(http::Request req);
    boost::asio::awaitable<http::Response> route(http::Request req, bool verified);
    http::Response rejected(const http::Request& req, std::string_view reason);

    const http::Router& router_;
    bus::InProcessBus& bus_;
    ports::EventLog* events_;
    std::vector<std::string> hosted_;
    std::string secret_;
    Logger log_;
    CounterFamily* failures_ = nullptr;
    http::Handler public_;
};

}  // namespace lt::cluster
