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

TEST_CASE("router prefers literal segments over parameters whatever the registration order") {
    lt::http::Router r;
    r.add("config", "GET", "/{application}/{profile}", nop);
    r.add("config", "GET", "/{document}", nop);
    r.add("auth", "POST", "/oauth2/token", nop);
    r.add("auth", "GET", "/oauth2/jwks", nop);
    r.add("token", "GET", "/api/{x}", nop);
    r.add("kernel", "GET", "/actuator", nop);
    auto jwks = r.match("GET", "/oauth2/jwks");
    REQUIRE(jwks.kind == lt::http::MatchKind::found);
    CHECK(jwks.route->owner == "auth");
    auto wrong_method = r.match("GET", "/oauth2/token");
    CHECK(wrong_method.kind == lt::http::MatchKind::method_not_allowed);
    CHECK(wrong_method.allow == "POST, OPTIONS");
    CHECK(r.match("GET", "/actuator").route->owner == "kernel");
    CHECK(r.match("GET", "/api/v1").route->owner == "token");
    auto other = r.match("GET", "/leaky-tokens/default");
    REQUIRE(other.kind == lt::http::MatchKind::found);
    CHECK(other.route->path == "/{application}/{profile}");
    CHECK(other.params == std::vector<std::pair<std::string, std::string>>{{"application", "leaky-tokens"}, {"profile", "default"}});
    CHECK(r.match("GET", "/leaky-tokens-default.yml").route->path == "/{document}");
    CHECK(r.match("POST", "/leaky-tokens/default").kind == lt::http::MatchKind::not_found);
    CHECK(r.match("DELETE", "/anything").kind == lt::http::MatchKind::not_found);
    CHECK(r.match("GET", "/a/b/c/d").kind == lt::http::MatchKind::not_found);
}
