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
#include "lt/core/result.hpp"
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

/// TLS termination (server.ssl.*).
struct TlsOptions {
    bool enabled = false;
    std::string certificate;               ///< PEM certificate chain file
    std::string private_key;               ///< PEM private key file
    std::uint16_t redirect_http_port = 0;  ///< plaintext port answering 308 to https; 0 = none
};

struct ServerOptions {
    std::string address = "0.0.0.0";
    std::uint16_t port = 8080;                  ///< 0 = pick a free port (see Server::port())
    std::size_t body_limit = 1024 * 1024;        ///< bytes; larger → 413
    std::size_t header_limit = 16 * 1024;        ///< bytes; larger → 431
    std::size_t max_connections = 10000;         ///< further connections are closed at accept
    std::size_t max_connections_per_ip = 256;    ///< per client address; further ones closed at accept; 0 = no cap
    std::size_t max_in_flight = 4096;            ///< requests being handled; more → 503
    std::chrono::milliseconds read_timeout{10000};   ///< to receive a whole request once it started
    std::chrono::milliseconds idle_timeout{60000};   ///< keep-alive connection without a request
    std::chrono::milliseconds request_timeout{30000}; ///< deadline handed to handlers
    CorsOptions cors;
    TlsOptions tls;
};

/// Sets the five security headers (CONTRACT 4) and X-Correlation-Id on `res`. The server calls it for
/// every answer that does not carry them yet; the gateway's first filter calls it for its own. Any thread.
void set_standard_headers(Response& res, std::string_view correlation_id);

/// Handler of every request that passed the server's own checks (the gateway's dispatch).
using RootHandler = Handler;

class Server {
public:
    /// Does no I/O. `metrics` may be null.
    /// Connections are spread over the contexts of `io`.
    Server(IoPool& io, ServerOptions options, Logger log, MetricsRegistry* metrics);
    ~Server();

    /// Binds, listens and starts accepting on the io_context (and the redirect port with TLS). Throws
    /// on bind failure or an unusable certificate or key (start-up).
    void start(RootHandler handler);
    /// Re-reads the TLS certificate and key (SIGHUP): new handshakes use them, open connections keep
    /// theirs. On failure the current ones stay and the error is returned. Any thread (blocking file
    /// reads: not on an I/O thread's hot path).
    Result<void> reload_tls();
    /// The bound redirect port (after start; 0 when none).
    std::uint16_t redirect_port() const;
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
