#include "upstream_client.hpp"

#include <charconv>
#include <mutex>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace lt::providers {

/// One connection to the upstream, plain or TLS, bound to the executor that opened it.
struct UpstreamConnection {
    asio::any_io_executor ex;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point idle_since{};
    beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxBody = 16 * 1024 * 1024;
constexpr std::size_t kMaxErrorBody = 64 * 1024;
using Parser = bhttp::response_parser<bhttp::string_body>;

Errc errc_of(const boost::system::error_code& ec) {
    return ec == beast::error::timeout ? Errc::timeout : Errc::bad_gateway;
}

/// A failure that a fresh connection may not have: the pooled one was closed by the upstream.
bool stale_error(const boost::system::error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == bhttp::error::end_of_stream || ec == asio::ssl::error::stream_truncated;
}

/// Writes the request and reads the response headers (whole = false) or the whole response.
template <class Stream>
asio::awaitable<boost::system::error_code> exchange(Stream& stream, UpstreamConnection& conn, const UpstreamUrl& url,
                                                    const http::ClientRequest& req, Parser& parser, bool whole) {
    bhttp::request<bhttp::string_body> out{bhttp::string_to_verb(req.method), req.target, 11};
    out.set(bhttp::field::host, url.host);
    for (const auto& h : req.headers) out.set(h.name, h.value);
    out.body() = req.body;
    out.keep_alive(true);
    out.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(stream, out, kTuple);
    if (wec) co_return wec;
    if (whole) {
        auto [rec, rn] = co_await bhttp::async_read(stream, conn.buffer, parser, kTuple);
        co_return rec;
    }
    auto [rec, rn] = co_await bhttp::async_read_header(stream, conn.buffer, parser, kTuple);
    co_return rec;
}

template <class Stream>
asio::awaitable<boost::system::error_code> read_some(Stream& stream, UpstreamConnection& conn, Parser& parser) {
    auto [ec, n] = co_await bhttp::async_read_some(stream, conn.buffer, parser, kTuple);
    co_return ec;
}

template <class Stream>
asio::awaitable<boost::system::error_code> read_rest(Stream& stream, UpstreamConnection& conn, Parser& parser) {
    auto [ec, n] = co_await bhttp::async_read(stream, conn.buffer, parser, kTuple);
    co_return ec;
}

asio::awaitable<boost::system::error_code> run_exchange(UpstreamConnection& conn, const UpstreamUrl& url,
                                                        const http::ClientRequest& req, Parser& parser, bool whole) {
    auto op = conn.secure ? exchange(*conn.secure, conn, url, req, parser, whole)
                          : exchange(*conn.plain, conn, url, req, parser, whole);
    co_return co_await std::move(op);
}

/// Destroys a connection on its own executor (the I/O contexts are single-threaded).
void dispose(std::unique_ptr<UpstreamConnection> conn) {
    if (!conn) return;
    auto ex = conn->ex;
    std::shared_ptr<UpstreamConnection> shared(std::move(conn));
    asio::post(ex, [shared]() mutable { shared.reset(); });
}
}  // namespace

Result<UpstreamUrl> parse_upstream_url(std::string_view url) {
    UpstreamUrl u;
    if (url.starts_with("https://")) {
        u.tls = true;
        url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
        url.remove_prefix(7);
    } else {
        return fail(Errc::invalid_argument, "base-url must start with http:// or https://");
    }
    auto slash = url.find('/');
    std::string_view authority = url.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view() : url.substr(slash);
    while (path.ends_with('/')) path.remove_suffix(1);
    u.base_path = std::string(path);
    auto colon = authority.rfind(':');
    u.port = u.tls ? 443 : 80;
    if (colon != std::string_view::npos) {
        unsigned port = 0;
        auto p = authority.substr(colon + 1);
        auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
        if (ec != std::errc() || ptr != p.data() + p.size() || port == 0 || port > 65535) {
            return fail(Errc::invalid_argument, "bad port in base-url");
        }
        u.port = static_cast<std::uint16_t>(port);
        authority = authority.substr(0, colon);
    }
    if (authority.empty()) return fail(Errc::invalid_argument, "base-url has no host");
    u.host = std::string(authority);
    return u;
}

struct UpstreamTls {
    ssl::context context{ssl::context::tls_client};
};

Result<std::shared_ptr<UpstreamTls>> make_upstream_tls(const std::optional<std::string>& ca_file) {
    auto tls = std::make_shared<UpstreamTls>();
    boost::system::error_code ec;
    tls->context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                                 ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                             ec);
    tls->context.set_verify_mode(ssl::verify_peer, ec);
    if (ca_file) {
        tls->context.load_verify_file(*ca_file, ec);
        if (ec) return fail(Errc::invalid_argument, "cannot load ca-file " + *ca_file + ": " + ec.message());
    } else {
        tls->context.set_default_verify_paths(ec);
        if (ec) return fail(Errc::invalid_argument, "cannot load the system CA store: " + ec.message());
    }
    return tls;
}

struct UpstreamClient::Impl {
    std::shared_ptr<UpstreamTls> tls;  ///< null: plain HTTP only
    PoolOptions pool;
    mutable std::mutex mutex;  ///< guards idle, retired
    std::vector<std::unique_ptr<UpstreamConnection>> idle;
    bool retired = false;
    std::atomic<std::uint64_t> opened{0};

    /// An idle connection of executor `ex` (expired ones are disposed of on the way).
    std::unique_ptr<UpstreamConnection> take(const asio::any_io_executor& ex) {
        std::vector<std::unique_ptr<UpstreamConnection>> expired;
        std::unique_ptr<UpstreamConnection> found;
        {
            std::lock_guard lock(mutex);
            auto now = std::chrono::steady_clock::now();
            for (auto it = idle.begin(); it != idle.end();) {
                if (now - (*it)->idle_since > pool.idle_ttl) {
                    expired.push_back(std::move(*it));
                    it = idle.erase(it);
                } else if (!found && &asio::query((*it)->ex, asio::execution::context) == &asio::query(ex, asio::execution::context)) {
                    // Same I/O thread (io_context); executors themselves differ per client connection
                    // (each carries its request scope: lt/core/request_scope.hpp).
                    found = std::move(*it);
                    it = idle.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (auto& c : expired) dispose(std::move(c));
        return found;
    }

    asio::awaitable<Result<std::unique_ptr<UpstreamConnection>>> connect(const UpstreamUrl& url,
                                                                        std::chrono::milliseconds timeout) {
        auto ex = co_await asio::this_coro::executor;
        auto conn = std::make_unique<UpstreamConnection>();
        conn->ex = ex;
        tcp::resolver resolver(ex);
        beast::tcp_stream tcp_stream(ex);
        tcp_stream.expires_after(timeout);
        auto [rec, endpoints] = co_await resolver.async_resolve(url.host, std::to_string(url.port), kTuple);
        if (rec) co_return fail(Errc::unavailable, "cannot resolve upstream host");
        auto [cec, ep] = co_await tcp_stream.async_connect(endpoints, kTuple);
        if (cec) co_return fail(cec == beast::error::timeout ? Errc::timeout : Errc::unavailable, "cannot connect upstream");
        tcp_stream.socket().set_option(tcp::no_delay(true));
        opened.fetch_add(1);
        if (!url.tls) {
            conn->plain.emplace(std::move(tcp_stream));
            co_return std::move(conn);
        }
        if (!tls) co_return fail(Errc::unavailable, "no TLS context for an https upstream");
        conn->secure.emplace(std::move(tcp_stream), tls->context);
        // SNI and host-name verification against the certificate (RFC 6125 through OpenSSL).
        if (!SSL_set_tlsext_host_name(conn->secure->native_handle(), url.host.c_str())) {
            co_return fail(Errc::unavailable, "cannot set SNI");
        }
        conn->secure->set_verify_callback(ssl::host_name_verification(url.host));
        auto [hec] = co_await conn->secure->async_handshake(ssl::stream_base::client, kTuple);
        if (hec) {
            co_return fail(hec == beast::error::timeout ? Errc::timeout : Errc::unavailable,
                           "TLS handshake with the upstream failed: " + hec.message());
        }
        co_return std::move(conn);
    }
};

UpstreamClient::UpstreamClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UpstreamClient::~UpstreamClient() {
    std::lock_guard lock(impl_->mutex);
    for (auto& c : impl_->idle) dispose(std::move(c));
}

std::shared_ptr<UpstreamClient> UpstreamClient::create(std::shared_ptr<UpstreamTls> tls, PoolOptions pool) {
    auto impl = std::make_unique<Impl>();
    impl->tls = std::move(tls);
    impl->pool = pool;
    return std::shared_ptr<UpstreamClient>(new UpstreamClient(std::move(impl)));
}

void UpstreamClient::retire() {
    std::vector<std::unique_ptr<UpstreamConnection>> idle;
    {
        std::lock_guard lock(impl_->mutex);
        impl_->retired = true;
        idle.swap(impl_->idle);
    }
    for (auto& c : idle) dispose(std::move(c));
}

std::size_t UpstreamClient::idle_connections() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->idle.size();
}

std::uint64_t UpstreamClient::connections_opened() const { return impl_->opened.load(); }

void UpstreamClient::recycle(std::unique_ptr<UpstreamConnection> conn) {
    if (!conn) return;
    conn->tcp().expires_never();
    conn->idle_since = std::chrono::steady_clock::now();
    std::lock_guard lock(impl_->mutex);
    if (!impl_->retired && impl_->idle.size() < impl_->pool.max_idle && impl_->pool.idle_ttl.count() > 0) {
        impl_->idle.push_back(std::move(conn));
    }
    // else: destroyed here, on its own executor (recycle runs where the connection was used)
}

asio::awaitable<Result<http::ClientResponse>> UpstreamClient::request(UpstreamUrl url, http::ClientRequest req,
                                                                      UpstreamTimeouts timeouts) {
    auto ex = co_await asio::this_coro::executor;
    const auto deadline = std::chrono::steady_clock::now() + timeouts.total;
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto conn = attempt == 0 ? impl_->take(ex) : nullptr;
        const bool reused = conn != nullptr;
        if (!conn) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            auto op = impl_->connect(url, std::max(std::chrono::milliseconds(1), std::min(timeouts.connect, left)));
            auto made = co_await std::move(op);
            if (!made) co_return fail(made.error());
            conn = std::move(*made);
        }
        conn->tcp().expires_at(deadline);
        Parser parser;
        parser.body_limit(kMaxBody);
        auto op = run_exchange(*conn, url, req, parser, true);
        auto ec = co_await std::move(op);
        if (ec) {
            if (reused && !parser.got_some() && stale_error(ec)) continue;  // the upstream closed it while idle
            co_return fail(errc_of(ec), "upstream exchange failed: " + ec.message());
        }
        http::ClientResponse res;
        res.status = static_cast<int>(parser.get().result_int());
        for (const auto& f : parser.get()) res.headers.push_back({std::string(f.name_string()), std::string(f.value())});
        res.body = std::move(parser.get().body());
        if (parser.is_done() && parser.keep_alive()) recycle(std::move(conn));
        co_return res;
    }
    co_return fail(Errc::bad_gateway, "upstream closed the connection");
}

asio::awaitable<Result<StreamOpen>> UpstreamClient::open_stream(UpstreamUrl url, http::ClientRequest req,
                                                                UpstreamTimeouts timeouts) {
    auto ex = co_await asio::this_coro::executor;
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto conn = attempt == 0 ? impl_->take(ex) : nullptr;
        const bool reused = conn != nullptr;
        if (!conn) {
            auto op = impl_->connect(url, timeouts.connect);
            auto made = co_await std::move(op);
            if (!made) co_return fail(made.error());
            conn = std::move(*made);
        }
        conn->tcp().expires_after(timeouts.first_byte);
        auto parser = std::make_shared<Parser>();
        parser->body_limit(boost::none);
        auto op = run_exchange(*conn, url, req, *parser, false);
        auto ec = co_await std::move(op);
        if (ec) {
            if (reused && !parser->got_some() && stale_error(ec)) continue;
            co_return fail(errc_of(ec), "upstream did not answer: " + ec.message());
        }
        StreamOpen out;
        out.status = static_cast<int>(parser->get().result_int());
        for (const auto& f : parser->get()) out.headers.push_back({std::string(f.name_string()), std::string(f.value())});
        if (out.status >= 200 && out.status <= 299) {
            auto type = std::string(parser->get()[bhttp::field::content_type]);
            out.stream = std::make_unique<UpstreamStream>(shared_from_this(), std::move(conn), parser);
            if (type.find("event-stream") == std::string::npos) out.stream->set_whole_body();
            co_return out;
        }
        parser->body_limit(kMaxErrorBody);
        auto rest = conn->secure ? read_rest(*conn->secure, *conn, *parser) : read_rest(*conn->plain, *conn, *parser);
        auto rec = co_await std::move(rest);
        out.error_body = std::move(parser->get().body());
        if (!rec && parser->is_done() && parser->keep_alive()) recycle(std::move(conn));
        co_return out;
    }
    co_return fail(Errc::bad_gateway, "upstream closed the connection");
}

UpstreamStream::UpstreamStream(std::shared_ptr<UpstreamClient> owner, std::unique_ptr<UpstreamConnection> conn,
                               std::shared_ptr<void> parser)
    : owner_(std::move(owner)), conn_(std::move(conn)), parser_(std::move(parser)) {}

UpstreamStream::~UpstreamStream() = default;

asio::any_io_executor UpstreamStream::executor() const { return conn_ ? conn_->ex : asio::any_io_executor(); }

void UpstreamStream::close() {
    if (!conn_) return;
    auto& parser = *static_cast<Parser*>(parser_.get());
    if (done_ && parser.is_done() && parser.keep_alive()) {
        owner_->recycle(std::move(conn_));
        return;
    }
    boost::system::error_code ec;
    conn_->tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    conn_->tcp().close();
    conn_.reset();
}

asio::awaitable<Result<SseBatch>> UpstreamStream::next(std::chrono::milliseconds idle) {
    if (!conn_) co_return fail(Errc::bad_gateway, "upstream stream closed");
    auto& parser = *static_cast<Parser*>(parser_.get());
    SseBatch out;
    while (whole_body_ && !parser.is_done()) {
        conn_->tcp().expires_after(idle);
        auto op = conn_->secure ? read_some(*conn_->secure, *conn_, parser) : read_some(*conn_->plain, *conn_, parser);
        auto ec = co_await std::move(op);
        if (ec && !(ec == bhttp::error::end_of_stream && parser.is_done())) {
            co_return fail(ec == beast::error::timeout ? Errc::timeout : Errc::bad_gateway, "the upstream broke off");
        }
    }
    if (whole_body_) {
        if (!done_) out.data.push_back(std::move(parser.get().body()));
        done_ = true;
        out.done = true;
        co_return out;
    }
    for (;;) {
        // Complete lines of the body so far.
        std::size_t start = 0;
        for (auto nl = pending_.find('\n'); nl != std::string::npos; nl = pending_.find('\n', start)) {
            std::string_view line(pending_.data() + start, nl - start);
            start = nl + 1;
            if (line.ends_with('\r')) line.remove_suffix(1);
            if (!line.starts_with("data:")) continue;  // blank separators, comments, event:/id: fields
            line.remove_prefix(5);
            if (line.starts_with(' ')) line.remove_prefix(1);
            out.data.emplace_back(line);
            if (line == "[DONE]") done_ = true;
        }
        pending_.erase(0, start);
        if (done_ && !parser.is_done()) {
            // The body's terminator usually follows at once; read it so the connection can be reused.
            conn_->tcp().expires_after(std::chrono::milliseconds(200));
            auto op = conn_->secure ? read_some(*conn_->secure, *conn_, parser) : read_some(*conn_->plain, *conn_, parser);
            co_await std::move(op);
            parser.get().body().clear();
        }
        if (!out.data.empty() || done_) {
            out.done = done_;
            co_return out;
        }
        if (parser.is_done()) {
            done_ = true;
            out.done = true;
            co_return out;
        }
        conn_->tcp().expires_after(idle);
        auto op = conn_->secure ? read_some(*conn_->secure, *conn_, parser) : read_some(*conn_->plain, *conn_, parser);
        auto ec = co_await std::move(op);
        pending_ += parser.get().body();
        parser.get().body().clear();
        if (ec && !(ec == bhttp::error::end_of_stream && parser.is_done())) {
            if (ec == beast::error::timeout) co_return fail(Errc::timeout, "the upstream stalled mid-stream");
            co_return fail(Errc::bad_gateway, "the upstream broke off mid-stream: " + ec.message());
        }
    }
}

}  // namespace lt::providers
