// Each gateway filter alone, with a scripted terminal filter after it (filters.hpp).
#include <deque>

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "filters.hpp"
#include "lt/adapters/memory_key_value_store.hpp"
#include "lt/core/actuator.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/metrics.hpp"
#include "lt/http/errors.hpp"
#include "lt/token/token.hpp"
#include "support/run_sync.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace lt::gateway;
using lt::http::Request;
using lt::http::Response;

namespace {

/// The end of a test chain: answers with `answer(ex)` and records what it saw.
class Terminal final : public Filter {
public:
    std::function<Response(Exchange&)> answer = [](Exchange&) { return Response::empty(204); };
    int calls = 0;
    std::vector<std::string> seen_user_ids;
    std::string_view name() const override { return "terminal"; }
    asio::awaitable<Response> apply(Exchange& ex, Chain&) override {
        ++calls;
        seen_user_ids.emplace_back(ex.req.header("X-User-Id"));
        co_return answer(ex);
    }
};

Request request(std::string method, std::string path) {
    Request r;
    r.method = std::move(method);
    r.path = path;
    r.target = std::move(path);
    r.remote_ip = "10.0.0.7";
    r.ctx.correlation_id = "cid-1";
    r.ctx.deadline = std::chrono::steady_clock::now() + 30s;
    return r;
}

Response run(std::vector<Filter*> filters, Request req) { return lt::test::run_sync(run_chain(filters, std::move(req))); }

/// An Exchange as the route filter leaves it, for filters further down.
Exchange routed(Request req, std::string route_template, std::string route_id, bool local,
                lt::http::Access access = lt::http::Access::required) {
    // The routes the exchanges point at live as long as the test binary.
    static std::deque<lt::http::Route> routes;
    auto& route = routes.emplace_back();
    route.path = route_template;
    route.route_id = route_id;
    route.access = access;
    Exchange ex(std::move(req));
    ex.route = &route;
    ex.route_template = std::move(route_template);
    ex.owner = "token";
    ex.route_id = std::move(route_id);
    ex.local = local;
    return ex;
}

Response run_routed(std::vector<Filter*> filters, Exchange& ex) {
    Chain chain(filters);
    return lt::test::run_sync(chain.next(ex));
}

asio::awaitable<Response> ok_handler(Request req) {
    (void)req;
    co_return Response::empty(204);
}

}  // namespace

TEST_CASE("The chain runs filters in order and a retrying filter reaches the same successor again") {
    struct Twice final : Filter {
        std::string_view name() const override { return "twice"; }
        asio::awaitable<Response> apply(Exchange& ex, Chain& chain) override {
            auto a = chain.next(ex);
            co_await std::move(a);
            auto b = chain.next(ex);
            co_return co_await std::move(b);
        }
    } twice;
    Terminal end;
    auto res = run({&twice, &end}, request("GET", "/x"));
    CHECK(res.status == 204);
    CHECK(end.calls == 2);
    CHECK(run({&twice}, request("GET", "/x")).status == 500);  // no terminal: the list ran out
}

TEST_CASE("The headers filter sets the security headers and the correlation id and shapes /v1/ errors") {
    ResponseHeadersFilter headers;
    Terminal end;
    end.answer = [](Exchange& ex) { return lt::http::error_response(404, "not found", ex.path); };
    auto res = run({&headers, &end}, request("GET", "/api/v1/x"));
    CHECK(res.header("X-Correlation-Id") == "cid-1");
    CHECK(res.header("X-Content-Type-Options") == "nosniff");
    CHECK(res.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains");
    CHECK(res.body.find("\"path\"") != std::string::npos);
    auto openai = run({&headers, &end}, request("GET", "/v1/models/x"));
    CHECK(openai.body.find("\"error\":{") != std::string::npos);
}

TEST_CASE("The route filter answers 404 and 405, strips client identity headers and names the route") {
    lt::http::Router router;
    // Declared from the token module's contract, hosted elsewhere: no handler here.
    router.declare("token", lt::token::kRoutes);
    RouteFilter route(router, [](std::string_view owner) { return owner == "auth"; });
    Terminal end;
    CHECK(run({&route, &end}, request("GET", "/nope")).status == 404);
    auto wrong = run({&route, &end}, request("GET", "/api/v1/tokens/consume"));
    CHECK(wrong.status == 405);
    CHECK(wrong.header("Allow").starts_with("POST"));
    auto req = request("POST", "/api/v1/tokens/consume");
    req.headers.push_back({"X-User-Id", "forged"});
    std::string route_id;
    bool local = true;
    end.answer = [&](Exchange& ex) {
        route_id = ex.route_id;
        local = ex.local;
        return Response::empty(204);
    };
    auto res = run({&route, &end}, req);
    CHECK(res.status == 204);
    CHECK(res.route == "/api/v1/tokens/consume");
    CHECK(end.seen_user_ids.back().empty());
    CHECK(route_id == "token-service");
    CHECK_FALSE(local);  // token is not hosted here
}

TEST_CASE("The auth filter refuses anonymous calls to protected routes and passes public ones") {
    AuthOutcome outcome;  // anonymous
    AuthFilter auth([&](std::string, std::string, lt::bus::Context) -> asio::awaitable<AuthOutcome> { co_return outcome; },
                    false);
    Terminal end;
    auto ex = routed(request("POST", "/api/v1/tokens/consume"), "/api/v1/tokens/consume", "token-service", true);
    auto res = run_routed({&auth, &end}, ex);
    CHECK(res.status == 401);
    CHECK(res.header("WWW-Authenticate") == "Bearer");
    CHECK(end.calls == 0);
    auto pub = routed(request("GET", "/api/v1/tokens/status"), "/api/v1/tokens/status", "token-service", true,
                      lt::http::Access::optional);
    CHECK(run_routed({&auth, &end}, pub).status == 204);
    outcome.kind = AuthOutcome::Kind::authenticated;
    outcome.principal.user_id = "u-1";
    auto ok = routed(request("POST", "/api/v1/tokens/consume"), "/api/v1/tokens/consume", "token-service", true);
    CHECK(run_routed({&auth, &end}, ok).status == 204);
    REQUIRE(ok.req.ctx.principal);
    CHECK(ok.req.ctx.principal->user_id == "u-1");
}

TEST_CASE("The auth filter reads no credentials on anonymous routes and passes the caller's principal on public ones") {
    AuthOutcome outcome;
    outcome.kind = AuthOutcome::Kind::authenticated;
    outcome.principal.user_id = "admin-1";
    int calls = 0;
    AuthFilter auth(
        [&](std::string, std::string, lt::bus::Context) -> asio::awaitable<AuthOutcome> {
            ++calls;
            co_return outcome;
        },
        false);
    Terminal end;
    auto health = routed(request("GET", "/actuator/health"), "/actuator/health", "kernel", true,
                         lt::http::Access::anonymous);
    health.owner = "kernel";
    CHECK(run_routed({&auth, &end}, health).status == 204);
    CHECK(calls == 0);
    CHECK_FALSE(health.req.ctx.principal);
    auto refresh = routed(request("POST", std::string(lt::kRefreshPath)), std::string(lt::kRefreshPath), "kernel", true,
                          lt::http::Access::optional);
    refresh.owner = "kernel";
    CHECK(run_routed({&auth, &end}, refresh).status == 204);
    CHECK(calls == 1);
    REQUIRE(refresh.req.ctx.principal);
    CHECK(refresh.req.ctx.principal->user_id == "admin-1");
}

TEST_CASE("The edge-limit filter refuses past capacity with 429 and sets its headers on allowed answers") {
    lt::FakeClock clock;
    lt::adapters::MemoryKeyValueStore kv(clock);
    EdgeLimitConfig cfg;
    cfg.global.capacity = 2;
    EdgeLimiter limiter(kv, cfg, nullptr);
    EdgeLimitFilter edge(limiter, clock);
    Terminal end;
    for (int i = 0; i < 2; ++i) {
        auto ex = routed(request("GET", "/api/v1/analytics/usage"), "/api/v1/analytics/usage", "analytics-service", true);
        auto res = run_routed({&edge, &end}, ex);
        CHECK(res.status == 204);
        CHECK(res.header("X-RateLimit-Limit") == "2");
        CHECK(res.header("RateLimit-Policy").find("\"edge\"") != std::string_view::npos);
    }
    auto ex = routed(request("GET", "/api/v1/analytics/usage"), "/api/v1/analytics/usage", "analytics-service", true);
    auto res = run_routed({&edge, &end}, ex);
    CHECK(res.status == 429);
    CHECK_FALSE(res.header("Retry-After").empty());
    CHECK(end.calls == 2);
}

TEST_CASE("The resilience filter leaves local routes alone") {
    ResilienceConfig cfg;
    cfg.defaults.sliding_window = cfg.defaults.minimum_calls = 2;
    ResilienceRegistry reg(cfg, nullptr);
    ResilienceFilter resilient(reg);
    Terminal end;
    end.answer = [](Exchange&) { return Response::empty(500); };
    for (int i = 0; i < 5; ++i) {
        auto ex = routed(request("GET", "/x"), "/x", "token-service", true);
        CHECK(run_routed({&resilient, &end}, ex).status == 500);
    }
    CHECK(end.calls == 5);
}

TEST_CASE("The resilience filter opens a failing route's circuit and answers the 503 fallback") {
    lt::MetricsRegistry metrics;
    ResilienceConfig cfg;
    cfg.defaults.sliding_window = 4;
    cfg.defaults.minimum_calls = 4;
    cfg.defaults.retry_attempts = 1;
    ResilienceRegistry reg(cfg, &metrics);
    ResilienceFilter resilient(reg);
    Terminal end;
    end.answer = [](Exchange&) { return Response::empty(503); };
    for (int i = 0; i < 4; ++i) {
        auto ex = routed(request("POST", "/api/v1/tokens/consume"), "/t", "token-service", false);
        CHECK(run_routed({&resilient, &end}, ex).status == 503);
    }
    auto ex = routed(request("POST", "/api/v1/tokens/consume"), "/t", "token-service", false);
    auto res = run_routed({&resilient, &end}, ex);
    CHECK(res.status == 503);
    CHECK(res.body.find("\"service\":\"token-service\"") != std::string::npos);
    CHECK(res.body.find("\"reason\":\"circuit open\"") != std::string::npos);
    CHECK(end.calls == 4);  // the fifth never reached the downstream
    auto text = metrics.render();
    CHECK(text.find("gateway_circuit_state{route=\"token-service\"} 1") != std::string::npos);
    CHECK(text.find("gateway_resilience_calls_total{route=\"token-service\",outcome=\"short_circuited\"} 1") !=
          std::string::npos);
}

TEST_CASE("A downstream's own 502 passes through and keeps the circuit closed") {
    ResilienceConfig cfg;
    cfg.defaults.sliding_window = cfg.defaults.minimum_calls = 2;
    ResilienceRegistry reg(cfg, nullptr);
    ResilienceFilter resilient(reg);
    Terminal end;
    end.answer = [](Exchange& ex) { return lt::http::error_response(502, "provider call failed", ex.path); };
    for (int i = 0; i < 6; ++i) {
        auto ex = routed(request("POST", "/api/v1/tokens/consume"), "/t", "token-service", false);
        auto res = run_routed({&resilient, &end}, ex);
        CHECK(res.status == 502);
        CHECK(res.body.find("provider call failed") != std::string::npos);
    }
    CHECK(reg.route("token-service").breaker.state() == CircuitBreaker::State::closed);
}

TEST_CASE("Idempotent calls that reached no downstream are retried and POST is not") {
    ResilienceConfig cfg;
    cfg.defaults.retry_attempts = 3;
    cfg.defaults.retry_wait = 10ms;
    ResilienceRegistry reg(cfg, nullptr);
    ResilienceFilter resilient(reg);
    Terminal end;
    end.answer = [&](Exchange& ex) {
        if (end.calls < 3) {
            ex.upstream_unreached = true;
            return lt::http::error_response(503, "service unavailable", ex.path);
        }
        return Response::empty(200);
    };
    auto get = routed(request("GET", "/api/v1/tokens/status"), "/s", "token-service", false);
    CHECK(run_routed({&resilient, &end}, get).status == 200);
    CHECK(end.calls == 3);
    end.calls = 0;
    auto post = routed(request("POST", "/api/v1/tokens/consume"), "/c", "token-service", false);
    CHECK(run_routed({&resilient, &end}, post).status == 503);
    CHECK(end.calls == 1);
    end.calls = 0;
    end.answer = [&](Exchange& ex) { return lt::http::error_response(503, "busy", ex.path); };  // an answer
    auto answered = routed(request("GET", "/api/v1/tokens/status"), "/s", "token-service", false);
    CHECK(run_routed({&resilient, &end}, answered).status == 503);
    CHECK(end.calls == 1);
}

TEST_CASE("A full bulkhead answers the 503 fallback after its wait") {
    ResilienceConfig cfg;
    cfg.defaults.bulkhead_max = 1;
    cfg.defaults.bulkhead_wait = 20ms;
    ResilienceRegistry reg(cfg, nullptr);
    ResilienceFilter resilient(reg);
    Terminal end;
    REQUIRE(reg.route("token-service").bulkhead.try_enter());  // the one slot is taken
    auto ex = routed(request("GET", "/s"), "/s", "token-service", false);
    auto res = run_routed({&resilient, &end}, ex);
    CHECK(res.status == 503);
    CHECK(res.body.find("bulkhead full") != std::string::npos);
    CHECK(end.calls == 0);
    reg.route("token-service").bulkhead.leave();
    auto again = routed(request("GET", "/s"), "/s", "token-service", false);
    CHECK(run_routed({&resilient, &end}, again).status == 204);
    CHECK(reg.route("token-service").bulkhead.active() == 0);
}

TEST_CASE("The dispatch filter calls a local handler and turns a throwing one into 500") {
    lt::http::Router router;
    router.add("token", "GET", "/ok", ok_handler);
    router.add("token", "GET", "/boom", [](Request) -> asio::awaitable<Response> {
        throw std::runtime_error("boom");
        co_return Response::empty(200);
    });
    DispatchFilter dispatch(nullptr, lt::make_logger("test"), nullptr);
    auto ex = routed(request("GET", "/ok"), "/ok", "token-service", true);
    ex.route = router.match("GET", "/ok").route;
    CHECK(run_routed({&dispatch}, ex).status == 204);
    auto boom = routed(request("GET", "/boom"), "/boom", "token-service", true);
    boom.route = router.match("GET", "/boom").route;
    CHECK(run_routed({&dispatch}, boom).status == 500);
    auto remote = routed(request("GET", "/ok"), "/ok", "token-service", false);
    CHECK(run_routed({&dispatch}, remote).status == 404);  // one process, no forwarder
}
