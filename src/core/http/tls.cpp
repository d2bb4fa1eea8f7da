#include "lt/http/tls.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include "server_state.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace lt::http {

Result<std::shared_ptr<ssl::context>> make_server_tls_context(const std::string& certificate,
                                                             const std::string& private_key) {
    if (certificate.empty() || private_key.empty()) {
        return fail(Errc::invalid_argument,
                    "server.ssl.enabled needs server.ssl.certificate and server.ssl.certificate-private-key");
    }
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use |
                         ssl::context::no_compression,
                     ec);
    if (ec) return fail(Errc::internal, "TLS options: " + ec.message());
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) return fail(Errc::internal, "TLS cipher list refused");
    ctx->use_certificate_chain_file(certificate, ec);
    if (ec) return fail(Errc::invalid_argument, "server.ssl.certificate " + certificate + ": " + ec.message());
    ctx->use_private_key_file(private_key, ssl::context::pem, ec);
    if (ec) {
        return fail(Errc::invalid_argument, "server.ssl.certificate-private-key " + private_key + ": " + ec.message());
    }
    if (SSL_CTX_check_private_key(native) != 1) {
        return fail(Errc::invalid_argument, "server.ssl.certificate-private-key does not match server.ssl.certificate");
    }
    return ctx;
}

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

/// One plaintext connection of the redirect port: its request head is read (within read-timeout)
/// and answered 308 to the same host and target over https, then the connection closes.
asio::awaitable<void> redirect_session(std::shared_ptr<Server::State> st, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    bhttp::request_parser<bhttp::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(st->opt.header_limit));
    stream.expires_after(st->opt.read_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
    std::string out;
    if (ec) {
        out = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    } else {
        const auto& req = parser.get();
        std::string host(req[bhttp::field::host]);
        // Host without its port ([v6] kept whole); only host characters, so no header can be injected.
        if (!host.empty() && host.front() == '[') host = host.substr(0, host.find(']') + 1);
        else host = host.substr(0, host.find(':'));
        bool clean = !host.empty() && host.find_first_of("\r\n /\\@?#") == std::string::npos;
        if (!clean) host = st->opt.address == "0.0.0.0" || st->opt.address == "::" ? "localhost" : st->opt.address;
        std::string target(req.target());
        if (target.empty() || target.front() != '/' || target.find_first_of("\r\n") != std::string::npos) target = "/";
        std::string location = "https://" + host;
        if (st->bound_port != 443) location += ":" + std::to_string(st->bound_port);
        location += target;
        out = "HTTP/1.1 308 Permanent Redirect\r\nLocation: " + location +
              "\r\nContent-Length: 0\r\nStrict-Transport-Security: max-age=31536000; includeSubDomains\r\n"
              "Connection: close\r\n\r\n";
    }
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(out), kTuple);
    (void)wec;  // closing either way
    (void)wn;
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
}
}  // namespace

asio::awaitable<void> redirect_loop(std::shared_ptr<Server::State> st) {
    for (;;) {
        auto [ec, socket] = co_await st->redirect_acceptor.async_accept(st->pool.next(), kTuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !st->redirect_acceptor.is_open()) co_return;
            // Out of descriptors or the like: wait a little instead of spinning.
            asio::steady_timer t(st->redirect_acceptor.get_executor());
            t.expires_after(std::chrono::milliseconds(100));
            auto [tec] = co_await t.async_wait(kTuple);
            (void)tec;
            continue;
        }
        if (st->connections.load() >= st->opt.max_connections) continue;  // the socket closes here
        auto ex = socket.get_executor();
        asio::co_spawn(ex, redirect_session(st, std::move(socket)), asio::detached);
    }
}

}  // namespace lt::http
