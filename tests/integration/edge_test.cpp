// The gateway's edge rate limiter end to end (seed-behavior.md §4.5, CONTRACT 8, 17, 27).
#include <doctest/doctest.h>

#include <thread>

#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::http_call;
using lt::test::TestApp;

namespace {

using lt::test::signup;
using lt::test::with_admin;

double metric(std::uint16_t port, const std::string& series) {
    auto r = http_call(port, "GET", "/actuator/prometheus");
    auto at = r.body.find(series + " ");
    if (at == std::string::npos) return 0;
    return std::stod(r.body.substr(at + series.size() + 1));
}

}  // namespace

TEST_CASE("the edge limiter's defaults are 120 per minute and 200 on token-service, with IETF edge headers") {
    TestApp app;
    auto jwks = http_call(app.port(), "GET", "/oauth2/jwks");
    CHECK(jwks.status == 200);
    CHECK(jwks.header("x-ratelimit-limit") == "120");
    CHECK(jwks.header("x-ratelimit-remaining") == "119");
    CHECK(jwks.header("ratelimit-policy") == "\"edge\";q=120;w=60");
    CHECK(jwks.header("ratelimit").rfind("\"edge\";r=119;t=", 0) == 0);
    auto status = http_call(app.port(), "GET", "/api/v1/tokens/status");
    CHECK(status.header("x-ratelimit-limit") == "200");
    CHECK(status.header("ratelimit-policy") == "\"edge\";q=200;w=60");
    const auto reset = std::stoi(status.header("x-ratelimit-reset"));
    CHECK(reset >= 1);
    CHECK(reset <= 60);  // relative seconds, not epoch seconds
    auto health = http_call(app.port(), "GET", "/actuator/health");
    CHECK(health.header("x-ratelimit-limit").empty());  // /actuator/** is whitelisted
    CHECK(health.header("ratelimit").empty());
}

TEST_CASE("the edge limiter refuses the request past the capacity with a JSON 429 and rejected ones do not count") {
    TestApp app({"gateway.rate-limit.capacity=3"});
    for (int i = 0; i < 3; ++i) {
        auto r = http_call(app.port(), "GET", "/oauth2/jwks");
        REQUIRE(r.status == 200);
        CHECK(r.header("x-ratelimit-remaining") == std::to_string(2 - i));
    }
    for (int i = 0; i < 4; ++i) {
        auto r = http_call(app.port(), "GET", "/oauth2/jwks");
        REQUIRE(r.status == 429);
        auto body = boost::json::parse(r.body).as_object();
        CHECK(body.at("message").as_string() == "rate limit exceeded");
        CHECK(body.at("status").as_int64() == 429);
        CHECK(body.at("error").as_string() == "Too Many Requests");
        CHECK(body.at("path").as_string() == "/oauth2/jwks");
        CHECK(body.contains("timestamp"));
        const auto retry = r.header("retry-after");
        CHECK(std::stoi(retry) >= 1);
        CHECK(body.at("retryAfterSeconds").as_int64() == std::stoi(retry));
        CHECK(r.header("x-ratelimit-limit") == "3");
        CHECK(r.header("x-ratelimit-remaining") == "0");
        CHECK(r.header("x-ratelimit-reset") == retry);
        CHECK(r.header("ratelimit") == "\"edge\";r=0;t=" + retry);
        CHECK_FALSE(r.header("x-correlation-id").empty());
    }
    CHECK(metric(app.port(), "gateway_rate_limit_total{route=\"auth-server\",result=\"allowed\"}") == 3);
    CHECK(metric(app.port(), "gateway_rate_limit_total{route=\"auth-server\",result=\"blocked\"}") == 4);
    // Another route has its own counter (CONTRACT 27: keyed by route and client).
    CHECK(http_call(app.port(), "GET", "/api/v1/analytics/health").status == 200);
}

TEST_CASE("the edge limiter keys an authenticated request by its user, not its address") {
    TestApp app(with_admin({"gateway.rate-limit.routes.token-service.capacity=4"}));
    auto alice = signup(app.port(), "edge-alice");
    auto bob = signup(app.port(), "edge-bob");
    const auto target = "/api/v1/tokens/quota?userId=" + alice.id + "&provider=openai";
    for (int i = 0; i < 4; ++i) CHECK(http_call(app.port(), "GET", target, "", alice.auth()).status != 429);
    CHECK(http_call(app.port(), "GET", target, "", alice.auth()).status == 429);
    // Bob, from the same address, still has his whole window.
    auto b = http_call(app.port(), "GET", "/api/v1/tokens/quota?userId=" + bob.id + "&provider=openai", "", bob.auth());
    CHECK(b.status != 429);
    CHECK(b.header("x-ratelimit-remaining") == "3");
    // A spoofed X-User-Id does not move Alice's requests to another counter.
    CHECK(http_call(app.port(), "GET", target, "", {{"Authorization", "Bearer " + alice.token}, {"X-User-Id", bob.id}})
              .status == 429);
}

TEST_CASE("an unauthenticated request to a protected route is 401 and does not count at the edge") {
    TestApp app({"gateway.rate-limit.routes.token-service.capacity=2"});
    for (int i = 0; i < 5; ++i) CHECK(http_call(app.port(), "GET", "/api/v1/tokens/quota").status == 401);
    auto r = http_call(app.port(), "GET", "/api/v1/tokens/status");
    CHECK(r.status == 200);
    CHECK(r.header("x-ratelimit-remaining") == "1");
}

TEST_CASE("on consume the bucket sets X-RateLimit and the edge adds its IETF item, and an edge 429 sets all") {
    TestApp app(with_admin({"gateway.rate-limit.routes.token-service.capacity=2"}));
    auto root = lt::test::admin(app.port());
    auto u = signup(app.port(), "edge-consumer");
    lt::test::allocate(app.port(), root, "userId", u.id, 1000);
    const auto body = boost::json::serialize(
        boost::json::object{{"userId", u.id}, {"provider", "openai"}, {"tokens", 10}, {"prompt", "hi"}});
    auto first = http_call(app.port(), "POST", "/api/v1/tokens/consume", body, u.auth());
    REQUIRE(first.status == 200);
    CHECK(first.header("x-ratelimit-limit") == "1000");  // the bucket's, not the edge's 2
    CHECK(first.header("ratelimit-policy") == "\"bucket\";q=1000;w=100, \"edge\";q=2;w=60");
    CHECK(http_call(app.port(), "POST", "/api/v1/tokens/consume", body, u.auth()).status == 200);
    auto refused = http_call(app.port(), "POST", "/api/v1/tokens/consume", body, u.auth());
    REQUIRE(refused.status == 429);
    CHECK(refused.header("x-ratelimit-limit") == "2");
    CHECK(refused.header("x-ratelimit-remaining") == "0");
    CHECK_FALSE(refused.header("retry-after").empty());
    CHECK(refused.header("ratelimit-policy") == "\"edge\";q=2;w=60");
}

TEST_CASE("the edge limiter is off with its feature flag, and a blacklisted path is refused") {
    TestApp off({"feature.flags.gateway.rate-limiting=false", "gateway.rate-limit.capacity=1"});
    for (int i = 0; i < 3; ++i) {
        auto r = http_call(off.port(), "GET", "/oauth2/jwks");
        CHECK(r.status == 200);
        CHECK(r.header("x-ratelimit-limit").empty());
    }
    TestApp blocked({"gateway.rate-limit.blacklist-paths=/api/v1/analytics/**"});
    auto r = http_call(blocked.port(), "GET", "/api/v1/analytics/health");
    CHECK(r.status == 403);
    CHECK(http_call(blocked.port(), "GET", "/oauth2/jwks").status == 200);
}

TEST_CASE("a new window starts after the old one ends") {
    TestApp app({"gateway.rate-limit.capacity=2", "gateway.rate-limit.window-seconds=1"});
    CHECK(http_call(app.port(), "GET", "/oauth2/jwks").status == 200);
    CHECK(http_call(app.port(), "GET", "/oauth2/jwks").status == 200);
    CHECK(http_call(app.port(), "GET", "/oauth2/jwks").status == 429);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    CHECK(http_call(app.port(), "GET", "/oauth2/jwks").status == 200);
}

TEST_CASE("a fixed-window bucket on consume still names its IETF policy bucket") {
    TestApp app(with_admin({"token.bucket.strategy=FIXED_WINDOW", "token.bucket.window-seconds=30"}));
    auto root = lt::test::admin(app.port());
    auto u = signup(app.port(), "edge-window");
    lt::test::allocate(app.port(), root, "userId", u.id, 1000);
    const auto body = boost::json::serialize(
        boost::json::object{{"userId", u.id}, {"provider", "openai"}, {"tokens", 10}, {"prompt", "hi"}});
    auto r = http_call(app.port(), "POST", "/api/v1/tokens/consume", body, u.auth());
    REQUIRE(r.status == 200);
    CHECK(r.header("ratelimit-policy").rfind("\"bucket\";q=1000;w=30, \"edge\";", 0) == 0);
    CHECK(r.header("ratelimit").rfind("\"bucket\";r=990;t=", 0) == 0);
}
