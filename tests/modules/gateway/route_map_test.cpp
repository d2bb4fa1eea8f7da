#include <doctest/doctest.h>

#include "route_map.hpp"

namespace {
boost::asio::awaitable<lt::http::Response> nop(lt::http::Request req) {
    (void)req;
    co_return lt::http::Response::empty(204);
}
}  // namespace

TEST_CASE("public path prefixes map to their owning modules and original route ids") {
    CHECK(lt::gateway::find_prefix("/api/v1/tokens/consume")->owner == "token");
    CHECK(lt::gateway::find_prefix("/api/v1/tokens/consume")->route_id == "token-service");
    CHECK(lt::gateway::find_prefix("/api/v1/auth/login")->owner == "auth");
    CHECK(lt::gateway::find_prefix("/oauth2/jwks")->owner == "auth");
    CHECK(lt::gateway::find_prefix("/api/v1/analytics/usage")->owner == "analytics");
    CHECK(lt::gateway::find_prefix("/api/v1/gemini/chat")->owner == "providers");
    CHECK(lt::gateway::find_prefix("/actuator/health")->owner == "kernel");
    CHECK(lt::gateway::find_prefix("/api/v1/other") == nullptr);
    CHECK(lt::gateway::find_prefix("/eureka/apps/TOKEN")->owner == "registry");
    CHECK(lt::gateway::find_prefix("/encrypt")->owner == "config");
    CHECK(lt::gateway::find_prefix("/{application}/{profile}")->owner == "config");
    CHECK_FALSE(lt::gateway::is_public_path("/eureka/apps"));
    CHECK(lt::gateway::is_public_path("/{application}/{profile}"));
    CHECK(lt::gateway::is_public_path("/{document}"));
    CHECK_FALSE(lt::gateway::is_public_path("/encrypt"));
    CHECK(lt::gateway::is_catch_all("/{application}/{profile}/{label}"));
    CHECK_FALSE(lt::gateway::is_catch_all("/eureka/apps/{app}"));
    CHECK_FALSE(lt::gateway::is_catch_all("/"));
}

TEST_CASE("a module registering a route outside its prefixes is refused at start-up") {
    lt::http::Router ok;
    ok.add("providers", "POST", "/api/v1/openai/chat", nop);
    ok.add("kernel", "GET", "/actuator/health", nop);
    CHECK(lt::gateway::verify_routes(ok));
    lt::http::Router bad;
    bad.add("providers", "GET", "/api/v1/tokens/status", nop);
    auto r = lt::gateway::verify_routes(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("/api/v1/tokens/status") != std::string::npos);
}
