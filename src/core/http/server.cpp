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
#include "lt/core/time.hpp"
#include "lt/core/tracer.hpp"
#include "lt/http/errors.hpp"
#include "request_framing.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace lt::http {

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

/// A live connection, so drain can close idle ones and close_all can close every one.
struct Conn {
    std::weak_ptr<beast::tcp_stream> stream;
    std::atomic<bool> busy{false};
};

bool valid_correlation_id(std::string_view v) {
    if (v.empty() || v.size() > 128) return false;
    return std::all_of(v.begin(), v.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
    });
}

std::string json_quote(std::string_view s) { return boost::json::serialize(boost::json::string(s)); }

/// Methods outside the standard set share one label value, so clients cannot grow the metrics.
std::string metric_method(const std::string& m) {
    static constexpr std::string_view kKnown[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
    for (auto k : kKnown) {
        if (m == k) return m;
    }
    return "OTHER";
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += ", ";
        out += s;
    }
    return out;
}
}  // namespace

struct Server::State : std::enable_shared_from_this<Server::State> {
    State(IoPool& io, ServerOptions o, Logger l, MetricsRegistry* m)
        : pool(io), opt(std::move(o)), log(std::move(l)), metrics(m), acceptor(io.main()) {}

    IoPool& pool;
    ServerOptions opt;
    Logger log;
    MetricsRegistry* metrics;
    tcp::acceptor acceptor;
    RootHandler handler;
    std::uint16_t bound_port = 0;
    std::atomic<std::size_t> in_flight{0};
    std::atomic<std::size_t> connections{0};
    std::atomic<bool> draining{false};
    std::atomic<std::uint64_t> next_request{0};
    std::mutex conns_mutex;  ///< guards conns
    std::list<std::shared_ptr<Conn>> conns;
    HistogramFamily* latency = nullptr;
    CounterFamily* accept_errors = nullptr;  ///< http_server_accept_errors_total{reason}
    asio::steady_timer accept_timer{acceptor.get_executor()};  ///< accept back-off; cancelled by drain
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

bool Server::State::origin_allowed(std::string_view origin) const {
    if (!opt.cors.enabled || origin.empty()) return false;
    for (const auto& o : opt.cors.allowed_origins) {
        if (o == "*" || o == origin) return true;
    }
    return false;
}

void Server::State::decorate(Response& res, const std::string& correlation_id, std::string_view origin) const {
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Permissions-Policy", "geolocation=(), microphone=(), camera=()");
    res.set_header("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    res.set_header("X-Correlation-Id", correlation_id);
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

Request to_request(const bhttp::request<bhttp::string_body>& m, std::string remote_ip) {
    Request r;
    r.method = std::string(m.method_string());
    r.target = std::string(m.target());
    std::string_view t = m.target();
    auto q = t.find('?');
    r.path = decode_component(t.substr(0, q), false);
    if (q != std::string_view::npos) r.query = std::string(t.substr(q + 1));
    r.headers.reserve(16);
    for (const auto& f : m) r.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    r.body = m.body();
    r.remote_ip = std::move(remote_ip);
    return r;
}

/// Serializes the status line and headers into one buffer (no per-field allocation) and writes it
/// with the body in one gather write. Header names or values containing CR/LF are dropped: a module
/// must never be able to split a response.
asio::awaitable<bool> write_response(beast::tcp_stream& stream, Response& res, unsigned version, bool keep_alive,
                                     bool head) {
    std::string out;
    out.reserve(256 + res.headers.size() * 48);
    out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    out += std::to_string(res.status);
    out += ' ';
    out += reason_phrase(res.status);
    out += "\r\n";
    for (const auto& h : res.headers) {
        if (h.name.empty() || h.name.find_first_of("\r\n:") != std::string::npos ||
            h.value.find_first_of("\r\n") != std::string::npos) {
            continue;
        }
        out += h.name;
        out += ": ";
        out += h.value;
        out += "\r\n";
    }
    bool bodiless = res.status < 200 || res.status == 204 || res.status == 304;
    if (res.stream && !bodiless) {
        // Chunked on HTTP/1.1; an HTTP/1.0 client reads until the connection closes.
        if (version != 10) out += "Transfer-Encoding: chunked\r\n";
        if (!keep_alive || version == 10) out += "Connection: close\r\n";
        out += "\r\n";
        auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out), kTuple);
        co_return !ec;
    }
    if (!bodiless) {
        out += "Content-Length: ";
        out += std::to_string(res.body.size());
        out += "\r\n";
    }
    if (!keep_alive) out += "Connection: close\r\n";
    else if (version == 10) out += "Connection: keep-alive\r\n";
    out += "\r\n";
    std::array<asio::const_buffer, 2> buffers{asio::buffer(out),
                                              asio::buffer(res.body.data(), head || bodiless ? 0 : res.body.size())};
    auto [ec, n] = co_await asio::async_write(stream, buffers, kTuple);
    co_return !ec;
}

/// The BodyWriter of one streamed response: each chunk is one write with its own deadline.
class ChunkWriter final : public BodyWriter {
public:
    ChunkWriter(beast::tcp_stream& stream, bool chunked, std::chrono::milliseconds deadline)
        : stream_(stream), chunked_(chunked), deadline_(deadline) {}

    asio::awaitable<bool> write(std::string_view chunk) override {
        if (failed_) co_return false;
        if (chunk.empty()) co_return true;
        char head[24];
        std::size_t head_len = 0;
        if (chunked_) head_len = static_cast<std::size_t>(std::snprintf(head, sizeof head, "%zx\r\n", chunk.size()));
        std::array<asio::const_buffer, 3> buffers{asio::buffer(head, head_len), asio::buffer(chunk.data(), chunk.size()),
                                                  asio::buffer("\r\n", chunked_ ? 2 : 0)};
        stream_.expires_after(deadline_);
        auto [ec, n] = co_await asio::async_write(stream_, buffers, kTuple);
        if (ec) failed_ = true;
        co_return !ec;
    }

    bool disconnected() const override { return failed_; }
    /// Marks the stream broken: no further chunk and no terminator is sent.
    void fail() { failed_ = true; }

    /// The terminating zero-length chunk (chunked only).
    asio::awaitable<bool> finish() {
        if (failed_) co_return false;
        if (!chunked_) co_return true;
        stream_.expires_after(deadline_);
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer("0\r\n\r\n", 5), kTuple);
        if (ec) failed_ = true;
        co_return !ec;
    }

private:
    beast::tcp_stream& stream_;
    bool chunked_;
    std::chrono::milliseconds deadline_;
    bool failed_ = false;
};

/// Lingering close (what nginx does after an early error): the answer is sent and the send side shut,
/// then what the client is still sending is read and dropped, at most 8 MiB and for at most `limit`
/// (capped at 2 s), so the client finishes its write and reads the answer instead of getting a reset.
asio::awaitable<void> linger_close(beast::tcp_stream& stream, std::chrono::milliseconds limit) {
    stream.expires_after(std::min<std::chrono::milliseconds>(limit, std::chrono::seconds(2)));
    std::array<char, 16384> sink;
    std::size_t dropped = 0;
    while (dropped < 8u * 1024 * 1024) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
        if (ec) break;
        dropped += n;
    }
}

asio::awaitable<void> session(std::shared_ptr<Server::State> st, tcp::socket socket) {
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    auto conn = std::make_shared<Conn>();
    conn->stream = stream;
    std::list<std::shared_ptr<Conn>>::iterator self;
    {
        std::lock_guard lock(st->conns_mutex);
        self = st->conns.insert(st->conns.end(), conn);
    }
    boost::system::error_code ep_ec;
    auto ep = stream->socket().remote_endpoint(ep_ec);
    std::string remote_ip = ep_ec ? std::string() : ep.address().to_string();
    beast::flat_buffer buffer;
    bool linger = false;  // an error answered before the request was read whole

    for (;;) {
        if (st->draining) break;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(st->opt.body_limit);
        parser.header_limit(static_cast<std::uint32_t>(st->opt.header_limit));
        // idle-timeout only until the first byte of a request; then the whole request (header and
        // body) must arrive within one read-timeout (a client trickling bytes cannot hold a slot).
        if (buffer.size() == 0) {
            stream->expires_after(st->opt.idle_timeout);
            auto first = buffer.prepare(4096);
            auto [fec, fn] = co_await stream->async_read_some(first, kTuple);
            if (fec) break;  // closed, idle, cancelled by drain: nothing to answer
            buffer.commit(fn);
        }
        auto started = std::chrono::steady_clock::now();
        stream->expires_after(st->opt.read_timeout);
        // The raw header is read first, so obs-folded lines can be seen (Beast's parser unfolds them).
        bool header_read_failed = false;
        while (header_end(buffer) == std::string_view::npos && buffer.size() <= st->opt.header_limit) {
            auto more = buffer.prepare(4096);
            auto [hec, hn] = co_await stream->async_read_some(more, kTuple);
            if (hec) {
                header_read_failed = true;  // timeout (the stream closed itself), eof, drain: just close
                break;
            }
            buffer.commit(hn);
        }
        if (header_read_failed) break;
        bool folded = has_obs_fold(buffer);
        auto [ec, n] = co_await bhttp::async_read_header(*stream, buffer, parser, kTuple);
        conn->busy = true;
        int reject = 0;
        std::string reject_msg;
        if (!ec) std::tie(reject, reject_msg) = framing_error(parser.get(), folded);
        if (!ec && !reject && !parser.is_done()) {
            std::tie(ec, n) = co_await bhttp::async_read(*stream, buffer, parser, kTuple);
        }
        if (ec || reject) {
            bool transport = ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                             ec == beast::error::timeout || ec == asio::error::operation_aborted ||
                             ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
            if (ec && transport) break;  // closed, idle, cancelled by drain: nothing to answer
            int status = reject                             ? reject
                         : ec == bhttp::error::body_limit   ? 413
                         : ec == bhttp::error::header_limit ? 431
                                                            : 400;
            std::string msg = reject          ? reject_msg
                              : status == 413 ? "request body too large"
                              : status == 431 ? "request header fields too large"
                                              : "malformed HTTP request";
            std::string err_path;
            // The request line is parsed before the fields: a too-large body (refused while the header
            // completes) still has its target.
            if (!parser.get().target().empty()) {
                std::string_view t{parser.get().target().data(), parser.get().target().size()};
                err_path = decode_component(t.substr(0, t.find('?')), false);
            }
            Response res = error_response(status, msg, err_path);
            st->decorate(res, new_uuid(), {});
            stream->expires_after(st->opt.read_timeout);
            co_await write_response(*stream, res, 11, false, false);
            if (st->access_log) {
                st->log->info("{{\"path\":{},\"status\":{},\"error\":{},\"remote\":\"{}\"}}", json_quote(err_path),
                              status, json_quote(msg), remote_ip);
            }
            linger = true;
            break;
        }
        auto& msg = parser.get();
        std::string_view incoming_cid{msg["X-Correlation-Id"].data(), msg["X-Correlation-Id"].size()};
        std::string cid = valid_correlation_id(incoming_cid) ? std::string(incoming_cid) : new_uuid();
        std::string_view origin{msg["Origin"].data(), msg["Origin"].size()};
        bool keep_alive = msg.keep_alive();
        unsigned version = msg.version();
        bool head = msg.method() == bhttp::verb::head;

        Response res;
        Request req = to_request(msg, remote_ip);
        req.ctx.correlation_id = cid;
        req.ctx.request_id = std::to_string(++st->next_request);
        const std::string req_id = req.ctx.request_id;
        req.ctx.deadline = started + st->opt.request_timeout;
        // The request's span (its traceparent goes to the handlers through the context).
        Span span;
        if (auto tp = msg.find("traceparent"); st->tracer || tp != msg.end()) {
            std::string_view incoming = tp != msg.end() ? std::string_view(tp->value().data(), tp->value().size())
                                                        : std::string_view();
            if (st->tracer) {
                span = st->tracer->start("HTTP", incoming, SpanKind::server);
                req.ctx.traceparent = span.traceparent();
            } else {
                req.ctx.traceparent = std::string(incoming);
            }
        }
        std::string method = req.method;
        std::string path = req.path;
        if (st->opt.cors.enabled && msg.method() == bhttp::verb::options && !origin.empty() &&
            msg.count("Access-Control-Request-Method")) {
            res = st->preflight(origin, path);
            res.route = "CORS_PREFLIGHT";
        } else if (st->in_flight.fetch_add(1) >= st->opt.max_in_flight) {
            st->in_flight.fetch_sub(1);
            res = error_response(503, "server busy: too many requests in flight", path);
            res.set_header("Retry-After", "1");
            res.route = "OVERLOADED";
        } else {
            try {
                auto op = st->handler(std::move(req));
                res = co_await std::move(op);
            } catch (const std::exception& e) {
                st->log->error("handler threw path={} error={}", json_quote(path), e.what());
                res = error_response(500, "internal error", path);
            }
            st->in_flight.fetch_sub(1);
        }
        if (st->draining) keep_alive = false;
        st->decorate(res, cid, origin);
        int status = res.status;
        std::string route = res.route.empty() ? std::string("UNKNOWN") : std::move(res.route);
        if (span.recording()) {
            span.set_name(method + " " + route);
            span.set_attribute("http.request.method", method);
            span.set_attribute("http.route", route);
            span.set_attribute("http.response.status_code", static_cast<std::int64_t>(status));
            span.set_attribute("request_id", req_id);
            if (status >= 500) span.set_error("HTTP " + std::to_string(status));
            span.end();
        }
        stream->expires_after(st->opt.read_timeout);
        // Observed before the write, so a client that saw the response also sees it counted.
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (st->latency) st->observe_latency(metric_method(method), route, status, seconds);
        bool streamed = res.stream && !head && status >= 200 && status != 204 && status != 304;
        if (streamed && version == 10) keep_alive = false;  // close-delimited body
        bool written = co_await write_response(*stream, res, version, keep_alive, head);
        if (streamed) {
            // The producer always runs, also when the head could not be sent: it must learn that the
            // client went away (a metered stream settles what it produced).
            ChunkWriter writer(*stream, version != 10, st->opt.read_timeout);
            auto producer = std::move(res.stream);
            if (!written) writer.fail();
            try {
                auto op = producer(writer);
                co_await std::move(op);
            } catch (const std::exception& e) {
                st->log->error("body producer threw path={} error={}", json_quote(path), e.what());
                writer.fail();
            }
            bool done = co_await writer.finish();
            written = written && done;
        }
        if (st->access_log) {
            // Values are JSON-escaped: a path may hold quotes or newlines once percent-decoded.
            st->log->info("{{\"method\":{},\"path\":{},\"route\":{},\"status\":{},\"durationMs\":{:.3f},"
                          "\"remote\":\"{}\",\"correlationId\":\"{}\"}}",
                          json_quote(method), json_quote(path), json_quote(route), status, seconds * 1000.0, remote_ip,
                          cid);
        }
        conn->busy = false;
        if (!written || !keep_alive) break;
    }
    boost::system::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (linger) co_await linger_close(*stream, st->opt.read_timeout);
    stream->close();
    {
        std::lock_guard lock(st->conns_mutex);
        st->conns.erase(self);
    }
    st->connections.fetch_sub(1);
}

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
        socket.set_option(tcp::no_delay(true), ignored);
        st->connections.fetch_add(1);
        auto ex = socket.get_executor();
        asio::co_spawn(ex, session(st, std::move(socket)), asio::detached);
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
                                                  "max_connections, other)",
                                                  {"reason"});
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
    asio::co_spawn(st.acceptor.get_executor(), accept_loop(state_), asio::detached);
}

std::uint16_t Server::port() const { return state_->bound_port; }

void Server::begin_drain() {
    auto st = state_;
    st->draining = true;
    asio::post(st->acceptor.get_executor(), [st] {
        boost::system::error_code ignored;
        st->acceptor.close(ignored);
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
