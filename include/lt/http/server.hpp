#pragma once
/// HTTP/1.1 server on Boost.Beast with C++20 coroutines: keep-alive, limits, timeouts, CORS,
/// security headers, correlation ids, one access-log line and one latency observation per request,
/// graceful drain.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lt/core/io_pool.hpp"

#include "lt/core/log.hpp"
#include "lt/http/message.hpp"

namespace lt {
class MetricsRegistry;
class Tracer;
}

namespace lt::http {

struct CorsOptions {
    bool enabled = false;
    std::vector<std::string> allowed_origins;  ///< "*" allows any origin
    std::vector<std::string> allowed_methods{"GET", "POST", "PUT", "DELETE", "OPTIONS"};
    std::vector<std::string> allowed_headers{"Authorization", "Content-Type", "X-Api-Key", "Idempotency-Key",
                                             "X-Correlation-Id"};
    std::vector<std::string> exposed_headers{"X-Correlation-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                                             "X-RateLimit-Reset", "Retry-After"};
    bool allow_credentials = false;
    std::chrono::seconds max_age{3600};
};

struct ServerOptions {
    std::string address = "0.0.0.0";
    std::uint16_t port = 8080;                  ///< 0 = pick a free port (see Server::port())
    std::size_t body_limit = 1024 * 1024;        ///< bytes; larger → 413
    std::size_t header_limit = 16 * 1024;        ///< bytes; larger → 431
    std::size_t max_connections = 10000;         ///< further connections are closed at accept
    std::size_t max_in_flight = 4096;            ///< requests being handled; more → 503
    std::chrono::milliseconds read_timeout{10000};   ///< to receive a whole request once it started
    std::chrono::milliseconds idle_timeout{60000};   ///< keep-alive connection without a request
    std::chrono::milliseconds request_timeout{30000}; ///< deadline handed to handlers
    CorsOptions cors;
};

/// Handler of every request that passed the server's own checks (the gateway's dispatch).
using RootHandler = Handler;

class Server {
public:
    /// Does no I/O. `metrics` may be null.
    /// Connections are spread over the contexts of `io`.
    Server(IoPool& io, ServerOptions options, Logger log, MetricsRegistry* metrics);
    ~Server();

    /// Binds, listens and starts accepting on the io_context. Throws on bind failure (start-up).
    void start(RootHandler handler);
    /// The bound port (after start).
    std::uint16_t port() const;
    /// Stops accepting; open connections finish their current request and close.
    void begin_drain();
    /// Requests being handled right now.
    std::size_t in_flight() const;
    /// Open connections right now.
    std::size_t connections() const;
    /// Closes every connection at once (after the drain deadline).
    void close_all();
    /// Turns the one-line-per-request access log on or off (before start).
    void set_access_log(bool enabled);
    /// Traces every request (a server span, child of an incoming `traceparent`) with `tracer`, which
    /// must outlive the server; null or disabled: the incoming traceparent is passed on. Before start.
    void set_tracer(Tracer* tracer);

    struct State;

private:
    std::shared_ptr<State> state_;
};

}  // namespace lt::http
