#pragma once
/// Blocking HTTP/1.1 client for tests (Boost.Beast, keep-alive on one connection).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace lt::test {

struct HttpResult {
    int status = 0;
    std::map<std::string, std::string> headers;  ///< lower-case names
    std::string body;
    bool keep_alive = false;
    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

class TestConnection {
public:
    explicit TestConnection(std::uint16_t port) : socket_(io_) {
        socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    }

    HttpResult request(const std::string& method, const std::string& target, const std::string& body = {},
                       const std::map<std::string, std::string>& headers = {}) {
        namespace http = boost::beast::http;
        http::request<http::string_body> req{http::string_to_verb(method), target, 11};
        req.set(http::field::host, "127.0.0.1");
        if (!body.empty()) req.set(http::field::content_type, "application/json");
        for (const auto& [k, v] : headers) req.set(k, v);
        req.body() = body;
        req.keep_alive(true);
        req.prepare_payload();
        http::write(socket_, req);
        return read_response(method == "HEAD");
    }

    /// Sends raw bytes and reads one response.
    HttpResult raw(const std::string& bytes) {
        boost::asio::write(socket_, boost::asio::buffer(bytes));
        return read_response(false);
    }

    HttpResult read_response(bool head) {
        namespace http = boost::beast::http;
        http::response_parser<http::string_body> parser;
        parser.skip(head);
        parser.body_limit(64 * 1024 * 1024);
        http::read(socket_, buffer_, parser);
        auto& res = parser.get();
        HttpResult out;
        out.status = static_cast<int>(res.result_int());
        for (const auto& f : res) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            out.headers[name] = std::string(f.value());
        }
        out.body = res.body();
        out.keep_alive = res.keep_alive();
        return out;
    }

    boost::asio::ip::tcp::socket& socket() { return socket_; }

private:
    boost::asio::io_context io_;
    boost::asio::ip::tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
};

/// One request on a fresh connection.
inline HttpResult http_call(std::uint16_t port, const std::string& method, const std::string& target,
                            const std::string& body = {}, const std::map<std::string, std::string>& headers = {}) {
    TestConnection c(port);
    return c.request(method, target, body, headers);
}

}  // namespace lt::test
