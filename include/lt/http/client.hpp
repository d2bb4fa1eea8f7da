#pragma once
/// HTTP/1.1 client on Boost.Beast: keep-alive connection reuse per host:port and a deadline per call.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "lt/core/result.hpp"
#include "lt/http/message.hpp"

namespace lt::http {

struct ClientRequest {
    std::string method = "GET";
    std::string target = "/";  ///< path + query
    std::vector<Header> headers;
    std::string body;
    /// A response body without a length (chunked or close-delimited, e.g. server-sent events) is not
    /// read by the call but handed over as ClientResponse::stream (the gateway's proxy relays it).
    bool stream_response = false;
};

/// The rest of a streamed response body, read piece by piece on the executor of the call that
/// returned it. Destroying it closes the connection (the server sees the client go away).
class BodyReader {
public:
    virtual ~BodyReader() = default;
    /// The next piece of the body as it arrives; empty once the body is complete. Errc::timeout when
    /// nothing arrived within the call's timeout, Errc::unavailable when the connection broke.
    virtual boost::asio::awaitable<Result<std::string>> next() = 0;
};

struct ClientResponse {
    int status = 0;
    std::vector<Header> headers;
    std::string body;
    std::shared_ptr<BodyReader> stream;  ///< set instead of `body` for a streamed body (stream_response)
    std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

/// Parsed "http://host:port/base" (https is not supported yet).
struct Url {
    std::string host;
    std::uint16_t port = 80;
    std::string base_path;  ///< without trailing '/'
};
Result<Url> parse_url(std::string_view url);

class Client {
public:
    /// `max_idle_per_host`: idle keep-alive connections kept per host:port. Thread-safe.
    explicit Client(boost::asio::any_io_executor ex, std::size_t max_idle_per_host = 32,
                    std::size_t max_response_bytes = 8 * 1024 * 1024);
    ~Client();

    /// Sends `req` to host:port and awaits the response. Errc::timeout past `timeout`,
    /// Errc::unavailable on connection errors. A reused connection that turns out closed is retried
    /// once on a new connection.
    boost::asio::awaitable<Result<ClientResponse>> request(std::string host, std::uint16_t port, ClientRequest req,
                                                           std::chrono::milliseconds timeout);

    struct Pool;

private:
    std::shared_ptr<Pool> pool_;
};

}  // namespace lt::http
