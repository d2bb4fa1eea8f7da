// The registry's routes in-process: Eureka's REST shape, status codes, who may call.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "lt/core/metrics.hpp"
#include "lt/registry/registry.hpp"
#include "registry_module.hpp"
#include "support/module_config.hpp"
#include "support/route_call.hpp"

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using lt::test::RouteCall;

namespace {
constexpr const char* kSecret = "registry-test-secret";

struct Harness {
    explicit Harness(std::vector<std::string> overrides = {})
        : cfg(make_config(std::move(overrides))) {
        lt::ModuleContext ctx;
        ctx.io = &io;
        ctx.config = &cfg;
        ctx.clock = &clock;
        ctx.metrics = &metrics;
        ctx.log = lt::make_logger("registry", "off");
        ctx.routes = &router;
        auto m = lt::registry::make_module(ctx);
        REQUIRE(m);
        module = std::move(*m);
        module->register_routes(router);
    }
    static lt::config::Config make_config(std::vector<std::string> overrides) {
        overrides.push_back(std::string("cluster.secret=") + kSecret);
        return lt::test::load_module_config(&lt::registry::describe_config, std::move(overrides));
    }
    lt::http::Response call(RouteCall c) { return lt::test::run_route(io, router, std::move(c)); }
    lt::http::Response signed_call(RouteCall c) {
        lt::test::sign_call(c, kSecret, clock.now());
        return call(std::move(c));
    }
    double refused() { return metrics.counter("lt_cluster_auth_failures_total", "", {"module"}).labels({"registry"}).value(); }
    lt::registry::RegistryService& service() { return static_cast<lt::registry::RegistryModule&>(*module).service(); }

    asio::io_context io;
    lt::FakeClock clock;
    lt::MetricsRegistry metrics;
    lt::config::Config cfg;
    lt::http::Router router;
    std::unique_ptr<lt::Module> module;
};

std::string registration(std::string id) {
    lt::registry::Registration r;
    r.app = "token";
    r.instance_id = std::move(id);
    r.base_url = "http://127.0.0.1:8081";
    return json::serialize(lt::registry::registration_body(r));
}

RouteCall post(std::string body) { return RouteCall{"POST", "/eureka/apps/token", std::move(body), {}, std::nullopt}; }
}  // namespace

TEST_CASE("signed calls register renew list and cancel an instance in Eureka's shape") {
    Harness h;
    CHECK(h.signed_call(post(registration("i-1"))).status == 204);
    auto list = h.signed_call(RouteCall{"GET", "/eureka/apps"});
    REQUIRE(list.status == 200);
    CHECK(list.header("Content-Type").find("application/json") != std::string_view::npos);
    auto doc = json::parse(list.body);
    const auto& app = doc.at("applications").at("application").as_array().at(0);
    CHECK(app.at("name") == "TOKEN");
    CHECK(app.at("instance").as_array().at(0).at("instanceId") == "i-1");
    auto one = h.signed_call(RouteCall{"GET", "/eureka/apps/Token"});
    REQUIRE(one.status == 200);
    CHECK(json::parse(one.body).at("application").at("name") == "TOKEN");
    CHECK(h.signed_call(RouteCall{"PUT", "/eureka/apps/token/i-1?status=UP"}).status == 200);
    CHECK(h.signed_call(RouteCall{"PUT", "/eureka/apps/token/unknown"}).status == 404);
    CHECK(h.signed_call(RouteCall{"DELETE", "/eureka/apps/token/i-1"}).status == 200);
    CHECK(h.signed_call(RouteCall{"DELETE", "/eureka/apps/token/i-1"}).status == 404);
    auto gone = h.signed_call(RouteCall{"GET", "/eureka/apps/token"});
    CHECK(gone.status == 404);
    CHECK(json::parse(gone.body).at("path") == "/eureka/apps/token");
}

TEST_CASE("registry writes without a valid signature are refused with 401 and counted") {
    Harness h;
    auto anonymous = h.call(post(registration("i-1")));
    CHECK(anonymous.status == 401);
    CHECK(json::parse(anonymous.body).at("status") == 401);
    CHECK(h.refused() == 1);
    auto c = post(registration("i-1"));
    lt::test::sign_call(c, "another-secret", h.clock.now());
    CHECK(h.call(c).status == 401);
    auto stale = post(registration("i-1"));
    lt::test::sign_call(stale, kSecret, h.clock.now() - 10min);
    CHECK(h.call(stale).status == 401);
    auto tampered = post(registration("i-1"));
    lt::test::sign_call(tampered, kSecret, h.clock.now());
    tampered.body = registration("i-2");
    CHECK(h.call(tampered).status == 401);
    CHECK(h.refused() == 4);
    CHECK(h.call(RouteCall{"GET", "/eureka/apps"}).status == 401);
    CHECK(h.service().size() == 0);
}

TEST_CASE("an ADMIN principal may write the registry while a USER may only read it") {
    Harness h;
    auto user = post(registration("i-1"));
    user.principal = lt::test::principal_with({"USER"});
    CHECK(h.call(user).status == 403);
    auto admin = post(registration("i-1"));
    admin.principal = lt::test::principal_with({"ADMIN", "USER"});
    CHECK(h.call(admin).status == 204);
    RouteCall read{"GET", "/eureka/apps"};
    read.principal = lt::test::principal_with({"USER"});
    CHECK(h.call(read).status == 200);
    RouteCall renew{"PUT", "/eureka/apps/token/i-1"};
    renew.principal = lt::test::principal_with({"USER"});
    CHECK(h.call(renew).status == 403);
}

TEST_CASE("malformed registrations are 400 with the JSON error body") {
    Harness h;
    auto bad = h.signed_call(post("{not json"));
    CHECK(bad.status == 400);
    CHECK(json::parse(bad.body).at("error") == "Bad Request");
    CHECK(h.signed_call(post(R"({"instance": {"instanceId": "x"}})")).status == 400);
    CHECK(h.signed_call(post(R"({"instance": {"homePageUrl": "http://h/"}})")).status == 400);
    CHECK(h.signed_call(RouteCall{"PUT", "/eureka/apps/token/i-1?status=SIDEWAYS"}).status == 400);
}

TEST_CASE("the eviction sweep removes expired leases while the module runs") {
    Harness h({"registry.eviction-interval=10ms", "registry.lease-duration=5s"});
    REQUIRE(h.signed_call(post(registration("i-1"))).status == 204);
    auto started = asio::co_spawn(h.io, h.module->start(), asio::use_future);
    h.io.restart();
    h.io.run_for(50ms);
    REQUIRE(started.get());
    CHECK(h.service().size() == 1);
    h.clock.advance(6s);
    for (int i = 0; i < 100 && h.service().size() > 0; ++i) h.io.run_for(10ms);
    CHECK(h.service().size() == 0);
    asio::co_spawn(h.io, h.module->stop(), asio::detached);
    h.io.run_for(50ms);
}
