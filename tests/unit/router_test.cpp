#include <doctest/doctest.h>

#include <boost/asio/awaitable.hpp>

#include "lt/http/router.hpp"

namespace {
boost::asio::awaitable<lt::http::Response> nop(lt::http::Request req) {
    (void)req; co_return lt::http::Response::empty(204); }
}  // namespace

TEST_CASE("router binds path parameters and reports the owner") {
    lt::http::Router r;
    r.add("token", "POST", "/api/v1/tokens/purchase", nop);
    r.add("token", "GET", "/api/v1/tokens/purchase/{sagaId}", nop);
    auto m = r.match("GET", "/api/v1/tokens/purchase/abc-123");
    REQUIRE(m.kind == lt::http::MatchKind::found);
    CHECK(m.route->owner == "token");
    CHECK(m.route->path == "/api/v1/tokens/purchase/{sagaId}");
    REQUIRE(m.params.size() == 1);
    CHECK(m.params[0].first == "sagaId");
    CHECK(m.params[0].second == "abc-123");
}

TEST_CASE("router answers not found for unknown paths and method not allowed with the allowed list") {
    lt::http::Router r;
    r.add("token", "POST", "/api/v1/tokens/consume", nop);
    r.add("token", "GET", "/api/v1/tokens/status", nop);
    CHECK(r.match("GET", "/api/v1/tokens/nothing").kind == lt::http::MatchKind::not_found);
    CHECK(r.match("GET", "/api/v1/tokens/consume/extra").kind == lt::http::MatchKind::not_found);
    auto m = r.match("GET", "/api/v1/tokens/consume");
    CHECK(m.kind == lt::http::MatchKind::method_not_allowed);
    CHECK(m.allow == "POST, OPTIONS");
    CHECK(r.match("HEAD", "/api/v1/tokens/status").kind == lt::http::MatchKind::found);
    CHECK(r.match("GET", "/api/v1/tokens/status/").kind == lt::http::MatchKind::found);
}

TEST_CASE("router rejects duplicate and malformed templates at registration") {
    lt::http::Router r;
    r.add("a", "GET", "/x/{id}", nop);
    CHECK_THROWS(r.add("a", "GET", "/x/{id}", nop));
    CHECK_THROWS(r.add("a", "GET", "x", nop));
    CHECK_THROWS(r.add("a", "GET", "/x/{id", nop));
}
