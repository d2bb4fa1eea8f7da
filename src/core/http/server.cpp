#include "lt/http/server.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <list>
#include <unordered_map>
#include <mutex>

#include <sys/resource.h>

#include <boost/asio/steady_timer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/asio/write.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "lt/core/metrics.hpp"
#include "lt/core/request_scope.hpp"
#include "lt/core/time.hpp"
#include "lt/core/tracer.hpp"
#include "lt/http/errors.hpp"
#include "lt/http/tls.hpp"
#include "server_state.hpp"
#include "request_framing.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace lt::http {

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += ", ";
        out += s;
    }
    return out;
}
}  // namespace


bool Server::State::origin_allowed(std::string_view origin) const {
    if (!opt.cors.enabled || origin.empty()) return false;
    for (const auto& o : opt.cors.allowed_origins) {
        if (o == "*" || o == origin) return true;
    }
    return false;
}

void set_standard_headers(Response& res, std::string_view correlation_id) {
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Permissions-Policy", "geolocation=(), microphone=(), camera=()");
    res.set_header("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    res.set_header("X-Correlation-Id", std::string(correlation_id));
}

void Server::State::decorate(Response& res, const std::string& correlation_id, std::string_view origin) const {
    // Set once: the gateway's first filter already did for the answers of its chain.
    if (res.header("X-Correlation-Id") != correlation_id) set_standard_headers(res, correlation_id);
    if (origin_allowed(origin)) {
        bool any = std::find(opt.cors.allowed_origins.begin(), opt.cors.allowed_origins.end(), "*") !=
                   opt.cors.allowed_origins.end();
        res.set_header("Access-Control-Allow-Origin", any && !opt.cors.allow_credentials ? "*" : std::string(origin));
        res.set_header("Vary", "Origin");
        if (opt.cors.allow_credentials) res.set_header("Access-Control-Allow-Credentials", "true");
        res.set_header("Access-Control-Expose-Headers", join(opt.cors.exposed_headers));
    }
}

Response Server::State::preflight(std::string_view origin, std::string_view path) const {
    if (!origin_allowed(origin)) return error_response(403, "CORS origin not allowed", path);
    Response res = Response::empty(204);
    res.set_header("Access-Control-Allow-Methods", join(opt.cors.allowed_methods));
    res.set_header("Access-Control-Allow-Headers", join(opt.cors.allowed_headers));
    res.set_header("Access-Control-Max-Age", std::to_string(opt.cors.max_age.count()));
    return res;
}

namespace {

/// The label of an accept failure (a fixed set, so the metric cannot grow).
const char* accept_reason(const boost::system::error_code& ec) {
    if (ec == asio::error::no_descriptors) return "emfile";
    if (ec.value() == ENFILE && ec.category() == asio::error::get_system_category()) return "enfile";
    if (ec == asio::error::no_buffer_space || ec == asio::error::no_memory) return "nomem";
    return "other";
}

asio::awaitable<void> accept_loop(std::shared_ptr<Server::State> st) {
    using namespace std::chrono_literals;
    constexpr auto kMinBackoff = 50ms;
    constexpr auto kMaxBackoff = 1000ms;
    constexpr auto kLogInterval = 10s;
    auto backoff = std::chrono::milliseconds(kMinBackoff);
    std::chrono::steady_clock::time_point last_log{};
    std::uint64_t unlogged = 0;
    for (;;) {
        auto [ec, socket] = co_await st->acceptor.async_accept(st->pool.next(), kTuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !st->acceptor.is_open()) co_return;
            std::string reason = accept_reason(ec);
            if (st->accept_errors) st->accept_errors->labels({reason}).inc();
            ++unlogged;
            auto now = std::chrono::steady_clock::now();
            if (now - last_log >= kLogInterval) {  // once per interval, not per failure
                st->log->warn("accept failed error={} reason={} failures={} (logged at most every {} s)",
                              ec.message(), reason, unlogged, kLogInterval.count());
                last_log = now;
                unlogged = 0;
            }
            if (reason == "other") continue;  // a connection aborted before accept: nothing to wait for
            // Out of descriptors or memory: stop accepting for a while (pending connections wait in
            // the backlog) instead of failing again at once; connections closing free descriptors.
            st->accept_timer.expires_after(backoff);
            auto waited = co_await st->accept_timer.async_wait(kTuple);
            (void)waited;  // cancelled by drain: the acceptor is closed, checked below
            if (!st->acceptor.is_open()) co_return;
            backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
            continue;
        }
        backoff = kMinBackoff;
        if (st->connections.load() >= st->opt.max_connections) {
            if (st->accept_errors) st->accept_errors->labels({"max_connections"}).inc();
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        boost::system::error_code ignored;
        auto peer = socket.remote_endpoint(ignored).address();
        if (!enter_ip(*st, peer)) {  // one client cannot take every slot
            if (st->accept_errors) st->accept_errors->labels({"max_connections_per_ip"}).inc();
            socket.close(ignored);
            continue;
        }
        socket.set_option(tcp::no_delay(true), ignored);
        st->connections.fetch_add(1);
        // The connection's coroutines run on its context through a RequestExecutor, so every
        // resumption sees the connection's RequestScope (log lines and store spans name the request).
        // The scope goes back to the pool when the connection's coroutine has finished.
        auto* scope = RequestScopePool::acquire();
        RequestExecutor ex(socket.get_executor(), scope);
        auto release = [scope](std::exception_ptr) { RequestScopePool::release(scope); };
        if (st->opt.tls.enabled) {
            asio::co_spawn(ex, serve_tls(st, std::move(socket), peer, st->current_tls()), release);
        } else {
            asio::co_spawn(ex, serve_plain(st, std::move(socket), peer), release);
        }
    }
}

}  // namespace

Server::Server(IoPool& ioc, ServerOptions options, Logger log, MetricsRegistry* metrics)
    : state_(std::make_shared<State>(ioc, std::move(options), std::move(log), metrics)) {
    if (metrics) {
        state_->latency = &metrics->histogram("http_server_requests_seconds", "HTTP server request latency",
                                              {"method", "uri", "status"});
        state_->accept_errors = &metrics->counter("http_server_accept_errors_total",
                                                  "Connections not accepted, by reason (emfile, enfile, nomem, "
                                                  "max_connections, max_connections_per_ip, other)",
                                                  {"reason"});
        state_->tls_failures = &metrics->counter("http_server_tls_handshake_failures_total",
                                                 "TLS handshakes that failed or timed out").labels({});
        auto* st = state_.get();
        metrics->gauge_callback("http_server_in_flight_requests", "Requests being handled",
                                [st] { return static_cast<double>(st->in_flight.load()); });
        metrics->gauge_callback("http_server_connections", "Open HTTP connections",
                                [st] { return static_cast<double>(st->connections.load()); });
    }
}

Server::~Server() = default;

void Server::set_access_log(bool enabled) { state_->access_log = enabled; }

void Server::set_tracer(Tracer* tracer) { state_->tracer = tracer && tracer->enabled() ? tracer : nullptr; }

namespace {
/// Descriptors kept free for stores, log and data files, the event loop and outgoing connections.
constexpr std::size_t kFdReserve = 64;

/// Raises the soft RLIMIT_NOFILE to the hard limit; when that still cannot hold `max_connections`
/// plus the reserve, warns once and returns a lower connection limit. Start-up thread only.
std::size_t size_connections_to_fd_limit(std::size_t max_connections, const Logger& log) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return max_connections;
    const rlim_t wanted = static_cast<rlim_t>(max_connections + kFdReserve);
    if (rl.rlim_cur < wanted && rl.rlim_cur < rl.rlim_max) {
        rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? wanted : std::min(rl.rlim_max, wanted);
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= wanted) return max_connections;
    auto limit = static_cast<std::size_t>(rl.rlim_cur);
    std::size_t effective = limit > 2 * kFdReserve ? limit - kFdReserve : limit / 2;
    log->warn("server.max-connections={} does not fit RLIMIT_NOFILE={} (with {} descriptors reserved): "
              "accepting at most {} connections; raise the limit (ulimit -n / LimitNOFILE) to serve more",
              max_connections, limit, kFdReserve, effective);
    return effective;
}
}  // namespace

void Server::start(RootHandler handler) {
    auto& st = *state_;
    st.handler = std::move(handler);
    st.opt.max_connections = size_connections_to_fd_limit(st.opt.max_connections, st.log);
    tcp::endpoint ep(asio::ip::make_address(st.opt.address), st.opt.port);
    st.acceptor.open(ep.protocol());
    st.acceptor.set_option(asio::socket_base::reuse_address(true));
    st.acceptor.bind(ep);
    st.acceptor.listen(asio::socket_base::max_listen_connections);
    st.bound_port = st.acceptor.local_endpoint().port();
    if (st.opt.tls.enabled) {
        auto ctx = make_server_tls_context(st.opt.tls.certificate, st.opt.tls.private_key);
        if (!ctx) throw std::runtime_error(ctx.error().message);
        st.tls = std::move(*ctx);
        if (st.opt.tls.redirect_http_port != 0) {
            tcp::endpoint rep(asio::ip::make_address(st.opt.address), st.opt.tls.redirect_http_port);
            st.redirect_acceptor.open(rep.protocol());
            st.redirect_acceptor.set_option(asio::socket_base::reuse_address(true));
            st.redirect_acceptor.bind(rep);
            st.redirect_acceptor.listen(asio::socket_base::max_listen_connections);
            st.redirect_port = st.redirect_acceptor.local_endpoint().port();
            asio::co_spawn(st.acceptor.get_executor(), redirect_loop(state_), asio::detached);
        }
    }
    asio::co_spawn(st.acceptor.get_executor(), accept_loop(state_), asio::detached);
}

std::uint16_t Server::port() const { return state_->bound_port; }
std::uint16_t Server::redirect_port() const { return state_->redirect_port; }

Result<void> Server::reload_tls() {
    auto& st = *state_;
    if (!st.opt.tls.enabled) return ok();
    auto ctx = make_server_tls_context(st.opt.tls.certificate, st.opt.tls.private_key);
    if (!ctx) {
        st.log->error("TLS reload failed, keeping the current certificate: {}", ctx.error().message);
        return tl::unexpected<Error>(ctx.error());
    }
    {
        std::lock_guard lock(st.tls_mutex);
        st.tls = std::move(*ctx);
    }
    st.log->info("TLS certificate reloaded from {}", st.opt.tls.certificate);
    return ok();
}

void Server::begin_drain() {
    auto st = state_;
    st->draining = true;
    asio::post(st->acceptor.get_executor(), [st] {
        boost::system::error_code ignored;
        st->acceptor.close(ignored);
        st->redirect_acceptor.close(ignored);
        st->accept_timer.cancel();
    });
    std::lock_guard lock(st->conns_mutex);
    for (auto& c : st->conns) {
        if (c->busy) continue;
        if (auto s = c->stream.lock()) {
            asio::post(s->get_executor(), [s] {
                boost::system::error_code ignored;
                s->socket().cancel(ignored);
            });
        }
    }
}

void Server::close_all() {
    std::lock_guard lock(state_->conns_mutex);
    for (auto& c : state_->conns) {
        if (auto s = c->stream.lock()) {
            asio::post(s->get_executor(), [s] {
                boost::system::error_code ignored;
                s->socket().cancel(ignored);
            });
        }
    }
}

std::size_t Server::in_flight() const { return state_->in_flight.load(); }
std::size_t Server::connections() const { return state_->connections.load(); }

}  // namespace lt::http
