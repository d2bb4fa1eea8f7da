#pragma once
/// Internal to the HTTP server: its shared state and the connection session, shared by server.cpp
/// (listener, drain), session.cpp (one connection, plain or TLS) and tls.cpp.

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "lt/core/metrics.hpp"
#include "lt/http/server.hpp"

namespace lt::http {

/// A live connection, so drain can close idle ones and close_all can close every one.
struct Conn {
    std::weak_ptr<boost::beast::tcp_stream> stream;  ///< the TCP layer (of a TLS stream too)
    std::atomic<bool> busy{false};
};

struct Server::State : std::enable_shared_from_this<Server::State> {
    State(IoPool& io, ServerOptions o, Logger l, MetricsRegistry* m)
        : pool(io), opt(std::move(o)), log(std::move(l)), metrics(m), acceptor(io.main()) {}

    IoPool& pool;
    ServerOptions opt;
    Logger log;
    MetricsRegistry* metrics;
    boost::asio::ip::tcp::acceptor acceptor;
    RootHandler handler;
    std::uint16_t bound_port = 0;
    std::atomic<std::size_t> in_flight{0};
    std::atomic<std::size_t> connections{0};
    std::atomic<bool> draining{false};
    std::atomic<std::uint64_t> next_request{0};
    std::mutex conns_mutex;  ///< guards conns
    std::list<std::shared_ptr<Conn>> conns;
    std::mutex per_ip_mutex;  ///< guards per_ip
    std::unordered_map<boost::asio::ip::address, std::size_t> per_ip;  ///< open connections per client address
    HistogramFamily* latency = nullptr;
    CounterFamily* accept_errors = nullptr;  ///< http_server_accept_errors_total{reason}
    Counter* tls_failures = nullptr;         ///< http_server_tls_handshake_failures_total
    std::mutex tls_mutex;                    ///< guards tls
    std::shared_ptr<boost::asio::ssl::context> tls;  ///< the current TLS context (replaced on reload)
    boost::asio::ip::tcp::acceptor redirect_acceptor{acceptor.get_executor()};  ///< HTTP → HTTPS port
    std::uint16_t redirect_port = 0;

    /// The TLS context for a new connection (a reload swaps it; connections keep theirs).
    std::shared_ptr<boost::asio::ssl::context> current_tls() {
        std::lock_guard lock(tls_mutex);
        return tls;
    }
    boost::asio::steady_timer accept_timer{acceptor.get_executor()};  ///< accept back-off; cancelled by drain
    const std::uint64_t id = next_id();

    static std::uint64_t next_id() {
        static std::atomic<std::uint64_t> counter{0};
        return ++counter;
    }
    bool access_log = true;
    Tracer* tracer = nullptr;  ///< set before start; null: incoming traceparent passed on unchanged

    /// Looks the series up once per (method, route, status) and thread, then only touches atomics.
    void observe_latency(const std::string& method, const std::string& route, int status, double seconds) {
        thread_local std::unordered_map<std::string, Histogram*> cache;
        thread_local std::uint64_t owner = 0;
        if (owner != id) {  // an id, not the address: a later server may reuse this one's address
            cache.clear();
            owner = id;
        }
        std::string key = method;
        key += '\0';
        key += route;
        key += '\0';
        key += std::to_string(status);
        auto it = cache.find(key);
        if (it == cache.end()) {
            it = cache.emplace(std::move(key), &latency->labels({method, route, std::to_string(status)})).first;
        }
        it->second->observe(seconds);
    }

    void decorate(Response& res, const std::string& correlation_id, std::string_view origin) const;
    Response preflight(std::string_view origin, std::string_view path) const;
    bool origin_allowed(std::string_view origin) const;
};

/// Serves one accepted connection until it closes: plain HTTP/1.1 (server.cpp's accept loop).
boost::asio::awaitable<void> serve_plain(std::shared_ptr<Server::State> st, boost::asio::ip::tcp::socket socket,
                                         boost::asio::ip::address peer);
/// The same over TLS with `tls` (the context current when the connection was accepted): the handshake
/// must complete within server.read-timeout.
boost::asio::awaitable<void> serve_tls(std::shared_ptr<Server::State> st, boost::asio::ip::tcp::socket socket,
                                       boost::asio::ip::address peer, std::shared_ptr<boost::asio::ssl::context> tls);
/// Accepts on the redirect port and answers each connection 308 to https (tls.cpp).
boost::asio::awaitable<void> redirect_loop(std::shared_ptr<Server::State> st);
/// Counts a new connection from `ip`; false when the address is at server.max-connections-per-ip.
bool enter_ip(Server::State& st, const boost::asio::ip::address& ip);

}  // namespace lt::http
