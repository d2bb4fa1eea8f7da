// Routes as data: every module's contract declares its routes (lt/http/route_spec.hpp); the router
// knows the routes of modules hosted elsewhere from those declarations and checks at start-up that a
// hosted module binds exactly what it declared.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "lt/analytics/analytics.hpp"
#include "lt/auth/auth.hpp"
#include "lt/config_server/config_server.hpp"
#include "lt/http/router.hpp"
#include "lt/providers/providers.hpp"
#include "lt/registry/registry.hpp"
#include "lt/token/token.hpp"

namespace {
boost::asio::awaitable<lt::http::Response> nop(lt::http::Request req) {
    (void)req;
    co_return lt::http::Response::empty(204);
}

const std::pair<std::string_view, std::span<const lt::http::RouteSpec>> kContracts[] = {
    {"token", lt::token::kRoutes},         {"auth", lt::auth::kRoutes},
    {"analytics", lt::analytics::kRoutes}, {"providers", lt::providers::kRoutes},
    {"registry", lt::registry::kRoutes},   {"config", lt::config_server::kRoutes},
};

lt::http::Router all_declared() {
    lt::http::Router router;
    for (auto [owner, routes] : kContracts) router.declare(owner, routes);
    return router;
}
}  // namespace

TEST_CASE("The contracts' public routes are exactly CONTRACT 5's list and the config catch-alls") {
    std::set<std::string> open;
    for (auto [owner, routes] : kContracts) {
        for (const auto& r : routes) {
            CHECK(r.access != lt::http::Access::anonymous);  // only kernel routes read no credentials
            if (r.access == lt::http::Access::optional) open.insert(std::string(r.method) + " " + std::string(r.path));
        }
    }
    const std::set<std::string> expected{
        "POST /api/v1/auth/register", "POST /api/v1/auth/login",     "GET /api/v1/auth/api-keys/validate",
        "GET /oauth2/jwks",           "POST /oauth2/token",          "GET /api/v1/tokens/status",
        "GET /api/v1/analytics/health", "GET /{application}/{profile}", "GET /{application}/{profile}/{label}",
        "GET /{document}"};
    CHECK(open == expected);
}

TEST_CASE("All modules' declarations fit in one table, each path owned by one module with its original route id") {
    auto router = all_declared();  // declare() throws on a duplicate method and template
    auto owner_of = [&](std::string_view method, std::string_view path) {
        auto m = router.match(method, path);
        REQUIRE(m.kind == lt::http::MatchKind::found);
        return std::make_pair(m.route->owner, m.route->route_id);
    };
    CHECK(owner_of("POST", "/api/v1/tokens/consume") == std::make_pair(std::string("token"), std::string("token-service")));
    CHECK(owner_of("POST", "/v1/chat/completions").first == "token");
    CHECK(owner_of("POST", "/api/v1/auth/login") == std::make_pair(std::string("auth"), std::string("auth-server")));
    CHECK(owner_of("GET", "/oauth2/jwks").first == "auth");
    CHECK(owner_of("GET", "/api/v1/analytics/usage").second == "analytics-service");
    CHECK(owner_of("POST", "/api/v1/gemini/chat") == std::make_pair(std::string("providers"), std::string("gemini-stub")));
    CHECK(owner_of("GET", "/eureka/apps/TOKEN").first == "registry");
    CHECK(owner_of("POST", "/encrypt").second == "config-server");
    // A literal route beats the config module's catch-all, which owns only what nobody else does.
    auto app = router.match("GET", "/leaky-tokens/default");
    REQUIRE(app.kind == lt::http::MatchKind::found);
    CHECK(app.route->owner == "config");
    CHECK(app.route->catch_all);
    CHECK_FALSE(router.match("GET", "/eureka/apps").route->catch_all);
    for (const auto& r : router.routes()) CHECK_FALSE(r.handler);  // declared, nobody hosts them here
}

TEST_CASE("A hosted module must bind every route it declares and nothing it did not declare") {
    auto router = all_declared();
    for (const auto& r : lt::token::kRoutes) router.add("token", std::string(r.method), std::string(r.path), nop);
    CHECK(router.verify({"kernel", "token"}).empty());
    // Another module's hosted routes without handlers are a start-up error naming the route.
    auto missing = router.verify({"kernel", "token", "analytics"});
    CHECK(missing.find("/api/v1/analytics/health") != std::string::npos);
    // A module cannot bind a route another module declared.
    CHECK_THROWS_AS(router.add("providers", "GET", "/api/v1/tokens/status", nop), std::invalid_argument);
    // Nor bind one twice.
    CHECK_THROWS_AS(router.add("token", "GET", "/api/v1/tokens/status", nop), std::invalid_argument);
    // A module route missing from the contract is refused at start-up; kernel routes need no contract.
    router.add("kernel", "GET", "/actuator/health", nop, {lt::http::Access::anonymous, "actuator"});
    router.add("token", "GET", "/api/v1/tokens/secret", nop);
    auto undeclared = router.verify({"kernel", "token"});
    CHECK(undeclared.find("/api/v1/tokens/secret") != std::string::npos);
    CHECK(undeclared.find("not declared") != std::string::npos);
    auto health = router.match("GET", "/actuator/health");
    REQUIRE(health.route);
    CHECK(health.route->access == lt::http::Access::anonymous);
    CHECK(health.route->route_id == "actuator");
}
