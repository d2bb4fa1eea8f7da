// libFuzzer target: the kernel's HTTP/1.1 request reading — header-end search, obs-fold detection,
// Beast's request parser under the server's limits, the RFC 9112 framing checks (request smuggling),
// target decoding, routing and the error body for a refused request (which must be valid UTF-8 JSON).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>

#include "../src/core/http/request_framing.hpp"
#include "lt/core/json.hpp"
#include "lt/http/errors.hpp"
#include "lt/http/message.hpp"
#include "lt/http/router.hpp"

namespace bhttp = boost::beast::http;

namespace {

lt::http::Router& router() {
    static lt::http::Router r = [] {
        lt::http::Router x;
        auto h = [](lt::http::Request) -> boost::asio::awaitable<lt::http::Response> {
            co_return lt::http::Response::empty(204);
        };
        x.add("token", "POST", "/api/v1/tokens/purchase", h);
        x.add("token", "GET", "/api/v1/tokens/purchase/{sagaId}", h);
        x.add("auth", "PUT", "/api/v1/auth/users/{userId}/roles/{role}", h);
        x.add("gateway", "GET", "/actuator/**", h);
        return x;
    }();
    return r;
}

void check_utf8_json(const lt::http::Response& res) {
    if (lt::valid_utf8(res.body) != res.body) __builtin_trap();
    boost::system::error_code ec;
    (void)boost::json::parse(res.body, ec);
    if (ec) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    boost::beast::flat_buffer buffer;
    if (size > 0) {
        auto out = buffer.prepare(size);
        std::memcpy(out.data(), data, size);
        buffer.commit(size);
    }
    const bool folded = lt::http::header_end(buffer) != std::string::npos && lt::http::has_obs_fold(buffer);

    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024);
    parser.header_limit(16 * 1024);
    parser.eager(true);
    boost::beast::error_code ec;
    std::size_t used = 0;
    while (!ec && used < input.size() && !parser.is_done()) {
        auto n = parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
        if (n == 0) break;
        used += n;
    }
    if (!parser.get().target().empty()) {
        std::string_view t{parser.get().target().data(), parser.get().target().size()};
        std::string path = lt::http::decode_component(t.substr(0, t.find('?')), false);
        check_utf8_json(lt::http::error_response(400, "malformed HTTP request", path));
    }
    if (ec || !parser.is_header_done()) return 0;
    auto [status, message] = lt::http::framing_error(parser.get(), folded);
    const auto& msg = parser.get();
    std::string_view target{msg.target().data(), msg.target().size()};
    lt::http::Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(target);
    req.path = lt::http::decode_component(target.substr(0, target.find('?')), false);
    if (auto q = target.find('?'); q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    (void)req.query_param("userId");
    auto match = router().match(req.method, req.path);
    if (auto err = lt::http::routing_error(match, req.path)) check_utf8_json(*err);
    if (status != 0) check_utf8_json(lt::http::error_response(status, message, req.path));
    return 0;
}
