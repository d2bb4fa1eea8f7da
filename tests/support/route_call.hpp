#pragma once
/// Runs one request through a Router's matched handler in-process (module tests without a listener):
/// the router matches, binds path parameters, and the handler runs on `io`.

#include <map>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>

#include "lt/bus/bus.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/cluster.hpp"
#include "lt/core/crypto.hpp"
#include "lt/http/router.hpp"

namespace lt::test {

struct RouteCall {
    std::string method = "GET";
    std::string target;  ///< path + optional query
    std::string body;
    std::map<std::string, std::string> headers;
    std::optional<bus::Principal> principal;  ///< as the gateway would set it
};

/// A principal with these roles.
inline bus::Principal principal_with(std::vector<std::string> roles) {
    bus::Principal p;
    p.user_id = "00000000-0000-4000-8000-000000000001";
    p.roles = std::move(roles);
    p.method = "jwt";
    return p;
}

/// Adds cluster signature headers for `call` made with `secret` at `now`.
inline void sign_call(RouteCall& call, std::string_view secret, std::chrono::system_clock::time_point now) {
    for (auto& [k, v] : cluster::sign(secret, call.method, call.target, std::nullopt, "", crypto::sha256_hex(call.body), now)) {
        call.headers[k] = v;
    }
}

/// Matches and runs `call`; a 404/405 from the router becomes a Response with that status.
inline http::Response run_route(boost::asio::io_context& io, const http::Router& router, RouteCall call) {
    http::Request req;
    req.method = call.method;
    req.target = call.target;
    auto q = call.target.find('?');
    req.path = http::decode_component(call.target.substr(0, q), false);
    if (q != std::string::npos) req.query = call.target.substr(q + 1);
    for (auto& [k, v] : call.headers) req.headers.push_back({k, v});
    req.body = call.body;
    req.ctx.request_id = "test-request";
    req.ctx.principal = call.principal;
    auto m = router.match(req.method, req.path);
    if (m.kind != http::MatchKind::found) return http::Response::empty(m.kind == http::MatchKind::not_found ? 404 : 405);
    req.route = m.route->path;
    req.path_params = m.params;
    auto fut = boost::asio::co_spawn(io, m.route->handler(std::move(req)), boost::asio::use_future);
    io.restart();
    io.run();
    return fut.get();
}

}  // namespace lt::test
