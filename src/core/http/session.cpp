#include <algorithm>
#include <array>
#include <cstdio>
#include <type_traits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "lt/core/time.hpp"
#include "lt/core/request_scope.hpp"
#include "lt/core/tracer.hpp"
#include "lt/http/errors.hpp"
#include "request_framing.hpp"
#include "server_state.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace lt::http {

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

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
template <class Stream>
asio::awaitable<bool> write_response(Stream& stream, Response& res, unsigned version, bool keep_alive,
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
template <class Stream>
class ChunkWriter final : public BodyWriter {
public:
    ChunkWriter(Stream& stream, bool chunked, std::chrono::milliseconds deadline)
        : stream_(stream), chunked_(chunked), deadline_(deadline) {}

    asio::awaitable<bool> write(std::string_view chunk) override {
        if (failed_) co_return false;
        if (chunk.empty()) co_return true;
        char head[24];
        std::size_t head_len = 0;
        if (chunked_) head_len = static_cast<std::size_t>(std::snprintf(head, sizeof head, "%zx\r\n", chunk.size()));
        std::array<asio::const_buffer, 3> buffers{asio::buffer(head, head_len), asio::buffer(chunk.data(), chunk.size()),
                                                  asio::buffer("\r\n", chunked_ ? 2 : 0)};
        beast::get_lowest_layer(stream_).expires_after(deadline_);
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
        beast::get_lowest_layer(stream_).expires_after(deadline_);
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer("0\r\n\r\n", 5), kTuple);
        if (ec) failed_ = true;
        co_return !ec;
    }

private:
    Stream& stream_;
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

}  // namespace

bool enter_ip(Server::State& st, const asio::ip::address& ip) {
    if (st.opt.max_connections_per_ip == 0) return true;
    std::lock_guard lock(st.per_ip_mutex);
    auto& n = st.per_ip[ip];
    if (n >= st.opt.max_connections_per_ip) return false;
    ++n;
    return true;
}

namespace {

void leave_ip(Server::State& st, const asio::ip::address& ip) {
    if (st.opt.max_connections_per_ip == 0) return;
    std::lock_guard lock(st.per_ip_mutex);
    auto it = st.per_ip.find(ip);
    if (it != st.per_ip.end() && --it->second == 0) st.per_ip.erase(it);
}

/// One connection: requests read, handled and answered in turn until it closes. `stream` is the
/// byte stream (TCP or TLS over it), `tcp` its TCP layer (deadlines, shutdown, drain).
template <class Stream>
asio::awaitable<void> session(std::shared_ptr<Server::State> st, std::shared_ptr<Stream> stream,
                              std::shared_ptr<beast::tcp_stream> tcp, asio::ip::address peer) {
    auto conn = std::make_shared<Conn>();
    conn->stream = tcp;
    std::list<std::shared_ptr<Conn>>::iterator self;
    {
        std::lock_guard lock(st->conns_mutex);
        self = st->conns.insert(st->conns.end(), conn);
    }
    boost::system::error_code ep_ec;
    auto ep = tcp->socket().remote_endpoint(ep_ec);
    std::string remote_ip = ep_ec ? std::string() : ep.address().to_string();
    beast::flat_buffer buffer;
    bool linger = false;  // an error answered before the request was read whole

    bool open = true;
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
        // TLS: the handshake within read-timeout; a failed one just closes (nothing to answer).
        tcp->expires_after(st->opt.read_timeout);
        auto [hec] = co_await stream->async_handshake(asio::ssl::stream_base::server, kTuple);
        if (hec) {
            open = false;
            if (st->tls_failures) st->tls_failures->inc();
        }
    }
    while (open) {
        if (st->draining) break;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(st->opt.body_limit);
        parser.header_limit(static_cast<std::uint32_t>(st->opt.header_limit));
        // idle-timeout only until the first byte of a request; then the whole request (header and
        // body) must arrive within one read-timeout (a client trickling bytes cannot hold a slot).
        if (buffer.size() == 0) {
            tcp->expires_after(st->opt.idle_timeout);
            auto first = buffer.prepare(4096);
            auto [fec, fn] = co_await stream->async_read_some(first, kTuple);
            if (fec) break;  // closed, idle, cancelled by drain: nothing to answer
            buffer.commit(fn);
        }
        auto started = std::chrono::steady_clock::now();
        tcp->expires_after(st->opt.read_timeout);
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
            tcp->expires_after(st->opt.read_timeout);
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
        // Log lines and store spans of this request name it (request_scope.hpp); cleared at its end.
        RequestScope* scope = current_request();
        if (scope) {
            scope->request_id = req_id;
            scope->traceparent = req.ctx.traceparent;
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
        res.set_header("X-Request-Id", req_id);  // the request_id of the request's log lines
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
        tcp->expires_after(st->opt.read_timeout);
        // Observed before the write, so a client that saw the response also sees it counted.
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (st->latency) st->observe_latency(metric_method(method), route, status, seconds);
        bool streamed = res.stream && !head && status >= 200 && status != 204 && status != 304;
        if (streamed && version == 10) keep_alive = false;  // close-delimited body
        bool written = co_await write_response(*stream, res, version, keep_alive, head);
        if (streamed) {
            // The producer always runs, also when the head could not be sent: it must learn that the
            // client went away (a metered stream settles what it produced).
            ChunkWriter<Stream> writer(*stream, version != 10, st->opt.read_timeout);
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
        if (scope) scope->clear();
        conn->busy = false;
        if (!written || !keep_alive) break;
    }
    boost::system::error_code ignored;
    tcp->socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (linger) co_await linger_close(*tcp, st->opt.read_timeout);
    tcp->close();
    {
        std::lock_guard lock(st->conns_mutex);
        st->conns.erase(self);
    }
    leave_ip(*st, peer);
    st->connections.fetch_sub(1);
}
}  // namespace

asio::awaitable<void> serve_plain(std::shared_ptr<Server::State> st, tcp::socket socket, asio::ip::address peer) {
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    std::shared_ptr<beast::tcp_stream> tcp_layer = stream;
    auto op = session(std::move(st), std::move(stream), std::move(tcp_layer), std::move(peer));
    co_await std::move(op);
}

asio::awaitable<void> serve_tls(std::shared_ptr<Server::State> st, tcp::socket socket, asio::ip::address peer,
                                std::shared_ptr<asio::ssl::context> tls) {
    auto stream = std::make_shared<beast::ssl_stream<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), *tls);
    std::shared_ptr<beast::tcp_stream> tcp_layer(stream, &beast::get_lowest_layer(*stream));
    auto op = session(std::move(st), std::move(stream), std::move(tcp_layer), std::move(peer));
    co_await std::move(op);
}

}  // namespace lt::http
