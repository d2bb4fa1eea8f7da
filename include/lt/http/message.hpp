#pragma once
/// Transport-neutral HTTP request and response, as handlers see them. The gateway fills a Request
/// from the wire; the bus carries it (as JSON) to the owning module's handler.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "lt/bus/bus.hpp"
#include "lt/core/result.hpp"

namespace lt::http {

namespace json = boost::json;

struct Header {
    std::string name;
    std::string value;
};

/// Case-insensitive lookup in a header list; empty view when absent.
std::string_view find_header(const std::vector<Header>& headers, std::string_view name);

struct Request {
    std::string method;  ///< "GET", "POST", ...
    std::string target;  ///< raw request target, path + query
    std::string path;    ///< decoded path without the query string
    std::string query;   ///< raw query string without '?'
    std::vector<Header> headers;
    std::string body;
    std::string remote_ip;  ///< client address without the port
    std::string route;      ///< matched route template, e.g. "/api/v1/tokens/purchase/{sagaId}"
    std::vector<std::pair<std::string, std::string>> path_params;
    bus::Context ctx;  ///< request id, correlation id, deadline, principal

    /// Header value (case-insensitive name); empty when absent.
    std::string_view header(std::string_view name) const { return find_header(headers, name); }
    /// Decoded query parameter (first occurrence); nullopt when absent.
    std::optional<std::string> query_param(std::string_view name) const;
    /// Path parameter bound by the router; empty when absent.
    std::string_view path_param(std::string_view name) const;
};

/// Sends the chunks of a streamed response body to the client. Given to a BodyProducer by the server;
/// used from that producer only, on the connection's executor (an I/O thread).
class BodyWriter {
public:
    virtual ~BodyWriter() = default;
    /// Sends `chunk` and flushes it to the socket (an empty chunk sends nothing). Resumes when the
    /// bytes were handed to the kernel, with true; false when the client went away or the write
    /// deadline (server read-timeout, per chunk) passed: the producer should stop then. `chunk`
    /// must stay valid until the write completes.
    virtual boost::asio::awaitable<bool> write(std::string_view chunk) = 0;
    /// True once a write failed (the client disconnected or stopped reading).
    virtual bool disconnected() const = 0;
};

/// Produces a streamed body by awaiting BodyWriter::write for each piece; returns when done. Runs on
/// the connection's I/O thread after the status line and headers were sent; must not block.
using BodyProducer = std::function<boost::asio::awaitable<void>(BodyWriter&)>;

struct Response {
    int status = 200;
    std::vector<Header> headers;
    std::string body;
    /// When set, the body is streamed by this producer (chunked transfer encoding on HTTP/1.1,
    /// close-delimited on HTTP/1.0) and `body` is ignored. to_json drops it; a streamed response
    /// of another process reaches the client through the gateway's proxy (split mode) streamed too.
    BodyProducer stream;
    std::string route;  ///< matched route template, for metrics and the access log (not sent)

    /// Replaces (or adds) a header.
    void set_header(std::string name, std::string value);
    /// Adds a header without removing existing ones of the same name.
    void add_header(std::string name, std::string value) { headers.push_back({std::move(name), std::move(value)}); }
    std::string_view header(std::string_view name) const { return find_header(headers, name); }

    /// A JSON response with Content-Type application/json.
    static Response json(int status, const json::value& body);
    /// An empty response (e.g. 204).
    static Response empty(int status);
};

/// A request handler. Runs on an I/O thread; must not block (use the BlockingPool).
using Handler = std::function<boost::asio::awaitable<Response>(Request)>;

/// Percent-decodes a URL component (`+` → space when `plus_is_space`).
std::string decode_component(std::string_view s, bool plus_is_space);

/// Reason phrase of a status code ("Not Found").
std::string_view reason_phrase(int status);

/// Wire form of a Request/Response on the bus.
json::value to_json(const Request& r);
Result<Request> request_from_json(const json::value& v);
json::value to_json(const Response& r);
Result<Response> response_from_json(const json::value& v);

}  // namespace lt::http
