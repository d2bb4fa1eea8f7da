// Per-route resilience of the gateway (issue 11 part 3) against a real downstream process that fails
// on purpose: a provider answering 503 (the token module's 502 passes through), a provider slower than
// the route's timeout (504, then the circuit opens: 503 fallback), and a token process killed.
#include <doctest/doctest.h>

#include <chrono>

#include <boost/json.hpp>

#include "gateway/split_pair.hpp"

using namespace std::chrono_literals;
namespace json = boost::json;
using lt::test::http_call;

namespace {
lt::test::HttpResult consume(std::uint16_t port, const lt::test::Account& u, const std::string& provider) {
    return http_call(port, "POST", "/api/v1/tokens/consume",
                     json::serialize(json::object{{"userId", u.id}, {"provider", provider}, {"tokens", 1}, {"prompt", "hi"}}),
                     u.auth());
}
}  // namespace

TEST_CASE("A failing downstream route opens its circuit, answers the 503 fallback and closes again") {
    lt::test::SplitPair p(
        {"gateway.resilience.routes.token-service.circuit-breaker.sliding-window-size=4",
         "gateway.resilience.routes.token-service.circuit-breaker.minimum-number-of-calls=4",
         "gateway.resilience.routes.token-service.circuit-breaker.wait-duration-in-open-state=1500ms",
         "gateway.resilience.routes.token-service.circuit-breaker.permitted-calls-in-half-open-state=1",
         "gateway.resilience.routes.token-service.timeout=1200ms"},
        {"providers.gemini.failure-rate=1", "providers.openai.latency=4s", "providers.openai.timeout=8s"});
    const auto gw = p.gateway_port;
    REQUIRE(lt::test::eventually(  // calls before the registry listed the token process may have opened it
        [&] { return p.metric("gateway_circuit_state{route=\"token-service\"}") <= 0 &&
                     http_call(gw, "GET", "/api/v1/tokens/status").status == 200; },
        10s));
    auto root = lt::test::admin(gw);
    auto u = lt::test::signup(gw, "resilient");
    lt::test::allocate(gw, root, "userId", u.id, 1000, "gemini");
    lt::test::allocate(gw, root, "userId", u.id, 1000, "openai");

    // The token module's own 502 passes through while the circuit is closed and keeps it closed.
    for (int i = 0; i < 6; ++i) {
        auto r = consume(gw, u, "gemini");
        CHECK(r.status == 502);
        CHECK(lt::test::message_of(r) == "provider call failed");
    }
    CHECK(p.metric("gateway_circuit_state{route=\"token-service\"}") == 0);

    // Slower than the route's timeout: 504 each (POST is never retried); two failures of the last four
    // calls reach the 50 % threshold and open the circuit.
    for (int i = 0; i < 2; ++i) {
        auto start = std::chrono::steady_clock::now();
        auto r = consume(gw, u, "openai");
        CHECK(r.status == 504);
        CHECK(std::chrono::steady_clock::now() - start < 2500ms);
    }
    CHECK(p.metric("gateway_circuit_state{route=\"token-service\"}") == 1);
    auto start = std::chrono::steady_clock::now();
    auto fallback = http_call(gw, "GET", "/api/v1/tokens/status");
    CHECK(std::chrono::steady_clock::now() - start < 300ms);
    REQUIRE(fallback.status == 503);
    auto body = json::parse(fallback.body).as_object();
    CHECK(body.at("message") == "service unavailable");
    CHECK(body.at("service") == "token-service");
    CHECK(body.at("status") == 503);
    CHECK(body.at("path") == "/api/v1/tokens/status");
    CHECK(fallback.header("x-content-type-options") == "nosniff");
    CHECK(p.metric("gateway_resilience_calls_total{route=\"token-service\",outcome=\"short_circuited\"}") >= 1);
    CHECK(p.metric("gateway_resilience_calls_total{route=\"token-service\",outcome=\"timeout\"}") == 2);
    // Other routes are not affected.
    CHECK(http_call(gw, "GET", "/api/v1/analytics/health").status == 200);

    // After the open wait a trial call goes through; its success closes the circuit.
    std::this_thread::sleep_for(1600ms);
    CHECK(http_call(gw, "GET", "/api/v1/tokens/status").status == 200);
    CHECK(p.metric("gateway_circuit_state{route=\"token-service\"}") == 0);
    CHECK(consume(gw, u, "gemini").status == 502);
}

TEST_CASE("A killed downstream process: idempotent calls are retried, then the circuit opens") {
    lt::test::SplitPair p({"gateway.resilience.routes.token-service.circuit-breaker.sliding-window-size=3",
                           "gateway.resilience.routes.token-service.circuit-breaker.minimum-number-of-calls=3",
                           "gateway.resilience.routes.token-service.retry.max-attempts=2",
                           "gateway.resilience.routes.token-service.circuit-breaker.wait-duration-in-open-state=2s",
                           "gateway.resilience.routes.token-service.circuit-breaker.permitted-calls-in-half-open-state=1",
                           "gateway.resilience.routes.token-service.retry.wait-duration=50ms"},
                          {});
    const auto gw = p.gateway_port;
    // Calls made before the token process was in the registry may have opened the circuit: wait
    // until a trial call closed it.
    REQUIRE(lt::test::eventually(
        [&] {
            return http_call(gw, "GET", "/api/v1/tokens/status").status == 200 &&
                   p.metric("gateway_circuit_state{route=\"token-service\"}") == 0;
        },
        10s));
    p.token->kill_hard();
    // Each GET: two attempts that find no process (the registry still lists it), then 503.
    for (int i = 0; i < 2; ++i) {
        auto r = http_call(gw, "GET", "/api/v1/tokens/status");
        CHECK(r.status == 503);
    }
    CHECK(p.metric("gateway_resilience_calls_total{route=\"token-service\",outcome=\"retried\"}") >= 1);
    CHECK(p.metric("gateway_circuit_state{route=\"token-service\"}") == 1);
    auto r = http_call(gw, "GET", "/api/v1/tokens/status");
    CHECK(r.status == 503);
    CHECK(r.body.find("circuit open") != std::string::npos);
    CHECK(http_call(gw, "GET", "/actuator/health/liveness").status == 200);
}
