#include "upstream_client.hpp"

#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
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

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxBody = 16 * 1024 * 1024;

template <class Stream>
asio::awaitable<Result<http::ClientResponse>> exchange(Stream& stream, const UpstreamUrl& url,
                                                       const http::ClientRequest& req) {
    bhttp::request<bhttp::string_body> out{bhttp::string_to_verb(req.method), req.target, 11};
    out.set(bhttp::field::host, url.host);
    for (const auto& h : req.headers) out.set(h.name, h.value);
    out.body() = req.body;
    out.keep_alive(false);
    out.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(stream, out, kTuple);
    if (wec) co_return fail(wec == beast::error::timeout ? Errc::timeout : Errc::unavailable, "upstream write failed");
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxBody);
    auto [rec, rn] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
    if (rec) {
        co_return fail(rec == beast::error::timeout ? Errc::timeout : Errc::bad_gateway,
                       "upstream read failed: " + rec.message());
    }
    http::ClientResponse res;
    res.status = static_cast<int>(parser.get().result_int());
    for (const auto& f : parser.get()) res.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    res.body = std::move(parser.get().body());
    co_return res;
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

struct UpstreamClient::Impl {
    ssl::context tls{ssl::context::tls_client};
};

UpstreamClient::UpstreamClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UpstreamClient::~UpstreamClient() = default;

Result<std::unique_ptr<UpstreamClient>> UpstreamClient::create(std::optional<std::string> ca_file) {
    auto impl = std::make_unique<Impl>();
    boost::system::error_code ec;
    impl->tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                              ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                          ec);
    impl->tls.set_verify_mode(ssl::verify_peer, ec);
    if (ca_file) {
        impl->tls.load_verify_file(*ca_file, ec);
        if (ec) return fail(Errc::invalid_argument, "cannot load ca-file " + *ca_file + ": " + ec.message());
    } else {
        impl->tls.set_default_verify_paths(ec);
        if (ec) return fail(Errc::invalid_argument, "cannot load the system CA store: " + ec.message());
    }
    return std::unique_ptr<UpstreamClient>(new UpstreamClient(std::move(impl)));
}

asio::awaitable<Result<http::ClientResponse>> UpstreamClient::request(UpstreamUrl url, http::ClientRequest req,
                                                                      std::chrono::milliseconds timeout) {
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    beast::tcp_stream tcp_stream(ex);
    tcp_stream.expires_after(timeout);
    auto [rec, endpoints] = co_await resolver.async_resolve(url.host, std::to_string(url.port), kTuple);
    if (rec) co_return fail(Errc::unavailable, "cannot resolve upstream host");
    auto [cec, ep] = co_await tcp_stream.async_connect(endpoints, kTuple);
    if (cec) co_return fail(cec == beast::error::timeout ? Errc::timeout : Errc::unavailable, "cannot connect upstream");
    if (!url.tls) {
        auto op = exchange(tcp_stream, url, req);
        co_return co_await std::move(op);
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), impl_->tls);
    // SNI and host-name verification against the certificate (RFC 6125 through OpenSSL).
    if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
        co_return fail(Errc::unavailable, "cannot set SNI");
    }
    stream.set_verify_callback(ssl::host_name_verification(url.host));
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kTuple);
    if (hec) {
        co_return fail(hec == beast::error::timeout ? Errc::timeout : Errc::unavailable,
                       "TLS handshake with the upstream failed: " + hec.message());
    }
    auto op = exchange(stream, url, req);
    co_return co_await std::move(op);  // Connection: close; no close_notify wait
}

}  // namespace lt::providers
