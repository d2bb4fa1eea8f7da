#pragma once
/// One HTTP or HTTPS call to an OpenAI-compatible upstream (Beast over OpenSSL): certificate and
/// host-name verification, SNI, the system CA store or a CA file, and a deadline over the whole call.
/// One connection per call (no keep-alive pool yet).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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

/// Thread-safe after construction (the TLS context is only read).
class UpstreamClient {
public:
    /// `ca_file`: PEM trust anchors; unset = the system store. Errc::invalid_argument when the file
    /// cannot be loaded (start-up).
    static Result<std::unique_ptr<UpstreamClient>> create(std::optional<std::string> ca_file);
    ~UpstreamClient();

    /// Sends `req` (target relative to the host) and reads the whole response. Errc::timeout past
    /// `timeout`; Errc::unavailable when it cannot connect or the TLS handshake (verification
    /// included) fails. Awaitable from any executor; never blocks.
    boost::asio::awaitable<Result<http::ClientResponse>> request(UpstreamUrl url, http::ClientRequest req,
                                                                 std::chrono::milliseconds timeout);

    struct Impl;

private:
    explicit UpstreamClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace lt::providers
