#pragma once
/// HTTP or HTTPS calls to an OpenAI-compatible upstream (Beast over OpenSSL): certificate and
/// host-name verification, SNI, the system CA store or a CA file, a bounded keep-alive connection
/// pool with idle expiry, and streamed responses read as server-sent events.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "lt/core/result.hpp"
#include "lt/http/client.hpp"

namespace lt::providers {

/// "http[s]://host[:port][/base]".
struct UpstreamUrl {
    bool tls = false;
    std::string host;
    std::uint16_t port = 0;
    std::string base_path;  ///< without trailing '/'
};
Result<UpstreamUrl> parse_upstream_url(std::string_view url);

/// Deadlines of one upstream exchange.
struct UpstreamTimeouts {
    std::chrono::milliseconds connect{2000};     ///< TCP connect + TLS handshake
    std::chrono::milliseconds first_byte{30000}; ///< request sent → response headers received
    std::chrono::milliseconds total{2000};       ///< non-streamed: the whole call
};

/// Keep-alive pool bounds (per upstream).
struct PoolOptions {
    std::size_t max_idle = 16;                 ///< idle connections kept (per upstream, all threads)
    std::chrono::milliseconds idle_ttl{30000}; ///< an idle connection older than this is closed
};

/// A batch of a streamed body: the `data:` payloads received so far, in order.
struct SseBatch {
    std::vector<std::string> data;  ///< payloads without "data: " ("[DONE]" included when sent)
    bool done = false;              ///< the body ended cleanly (no more batches)
};

struct UpstreamConnection;
class UpstreamClient;

/// The trust anchors of upstream TLS connections (an OpenSSL client context), shared by the clients
/// that use the same CA file. Opaque here.
struct UpstreamTls;

/// Builds the TLS client context: `ca_file` PEM trust anchors, unset = the system store.
/// Errc::invalid_argument when they cannot be loaded. Reads and parses files: start-up only (or a
/// blocking thread), never an I/O thread.
Result<std::shared_ptr<UpstreamTls>> make_upstream_tls(const std::optional<std::string>& ca_file);

/// The body of a streamed upstream response, being read. Not thread-safe: use it from the executor
/// that opened it (executor()).
class UpstreamStream {
public:
    /// `owner` is kept alive while the stream is (a refresh may replace the provider's client).
    UpstreamStream(std::shared_ptr<UpstreamClient> owner, std::unique_ptr<UpstreamConnection> conn,
                   std::shared_ptr<void> parser);
    ~UpstreamStream();

    /// Waits until at least one `data:` payload arrived or the body ended, at most `idle`.
    /// Errc::timeout past `idle`; Errc::bad_gateway when the upstream closed or broke mid-body.
    boost::asio::awaitable<Result<SseBatch>> next(std::chrono::milliseconds idle);
    /// Stops reading: closes the connection (the upstream stops generating). Idempotent.
    void close();
    /// The executor the connection is bound to.
    boost::asio::any_io_executor executor() const;
    /// The upstream answered a whole body instead of an event stream (it ignored "stream": true):
    /// next() returns that body as one payload.
    void set_whole_body() { whole_body_ = true; }

private:
    std::shared_ptr<UpstreamClient> owner_;
    std::unique_ptr<UpstreamConnection> conn_;
    std::shared_ptr<void> parser_;  ///< the response parser (type hidden from this header)
    std::string pending_;           ///< body text not yet split into lines
    bool done_ = false;
    bool whole_body_ = false;
};

/// Result of opening a stream: the status and, for 2xx, the body reader; else the error body.
struct StreamOpen {
    int status = 0;
    std::vector<http::Header> headers;
    std::string error_body;                  ///< non-2xx: the body (at most 64 KiB)
    std::unique_ptr<UpstreamStream> stream;  ///< 2xx only
};

/// Thread-safe after construction (the TLS context is only read; the pool is locked). Owned by
/// shared_ptr: the provider's settings snapshot and every stream read from it share it.
class UpstreamClient : public std::enable_shared_from_this<UpstreamClient> {
public:
    /// `tls`: the trust anchors for https upstreams (null: plain HTTP only, an https connect fails
    /// with Errc::unavailable). Never blocks.
    static std::shared_ptr<UpstreamClient> create(std::shared_ptr<UpstreamTls> tls, PoolOptions pool = {});
    ~UpstreamClient();

    /// Sends `req` (target relative to the host) and reads the whole response, on a pooled
    /// connection when one is idle (a stale pooled connection is retried once on a fresh one).
    /// Errc::timeout past the deadlines; Errc::unavailable when it cannot connect or the TLS
    /// handshake (verification included) fails. Awaitable from any executor; never blocks.
    boost::asio::awaitable<Result<http::ClientResponse>> request(UpstreamUrl url, http::ClientRequest req,
                                                                 UpstreamTimeouts timeouts);

    /// Sends `req` and reads the response headers (connect and first-byte deadlines); the body is
    /// then read with UpstreamStream::next. Errors as request().
    boost::asio::awaitable<Result<StreamOpen>> open_stream(UpstreamUrl url, http::ClientRequest req,
                                                           UpstreamTimeouts timeouts);

    /// Idle pooled connections now (all executors).
    std::size_t idle_connections() const;
    /// Connections opened since start (for tests and metrics).
    std::uint64_t connections_opened() const;
    /// Retires the client (its provider's base URL or pool changed): closes the idle connections now,
    /// and connections of requests still in flight are closed when they end instead of pooled. Any
    /// thread.
    void retire();

    struct Impl;
    /// Returns a connection whose last response ended cleanly with keep-alive to the pool.
    void recycle(std::unique_ptr<UpstreamConnection> conn);

private:
    explicit UpstreamClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace lt::providers
