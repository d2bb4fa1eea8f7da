// The config module's routes in-process: Spring Cloud Config's shape, renderings, ciphers, who may read.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include <boost/json.hpp>

#include "lt/config_server/config_server.hpp"
#include "lt/core/metrics.hpp"
#include "support/module_config.hpp"
#include "support/route_call.hpp"
#include "support/temp_dir.hpp"

namespace json = boost::json;
using lt::test::RouteCall;

namespace {
constexpr const char* kSecret = "config-test-secret";

struct Harness {
    explicit Harness(const char* encrypt_key = "test-passphrase") {
        if (encrypt_key) {
            ::setenv("LEAKY_CONFIG_ENCRYPT_KEY", encrypt_key, 1);
        } else {
            ::unsetenv("LEAKY_CONFIG_ENCRYPT_KEY");
        }
        cfg = lt::test::load_module_config(&lt::config_server::describe_config,
                                           {"config.server.search-locations=" + dir.path().string(),
                                            std::string("cluster.secret=") + kSecret});
        std::ofstream(dir.path() / "billing.yml") << "server:\n  port: 9000\nfeature: on\n";
        std::ofstream(dir.path() / "billing-prod.yml") << "server:\n  port: 9443\n";
        std::ofstream(dir.path() / "application.yml") << "shared: hello\n";
        lt::ModuleContext ctx;
        ctx.io = &io;
        ctx.config = &cfg;
        ctx.clock = &clock;
        ctx.metrics = &metrics;
        ctx.log = lt::make_logger("config", "off");
        ctx.routes = &router;
        auto m = lt::config_server::make_module(ctx);
        REQUIRE(m);
        module = std::move(*m);
        module->register_routes(router);
    }
    lt::http::Response call(RouteCall c) { return lt::test::run_route(io, router, std::move(c)); }
    lt::http::Response as(std::vector<std::string> roles, RouteCall c) {
        c.principal = lt::test::principal_with(std::move(roles));
        return call(std::move(c));
    }
    lt::http::Response admin(RouteCall c) { return as({"ADMIN", "USER"}, std::move(c)); }
    lt::http::Response signed_call(RouteCall c) {
        lt::test::sign_call(c, kSecret, clock.now());
        return call(std::move(c));
    }

    lt::test::TempDir dir{"cfgsrv"};
    boost::asio::io_context io;
    lt::FakeClock clock;
    lt::MetricsRegistry metrics;
    lt::config::Config cfg;
    lt::http::Router router;
    std::unique_ptr<lt::Module> module;
};
}  // namespace

TEST_CASE("the environment endpoint answers Spring's JSON with the most specific source first") {
    Harness h;
    auto r = h.admin(RouteCall{"GET", "/billing/prod"});
    REQUIRE(r.status == 200);
    auto j = json::parse(r.body);
    CHECK(j.at("name") == "billing");
    CHECK(j.at("profiles") == json::array{"prod"});
    CHECK(j.at("label").is_null());
    const auto& sources = j.at("propertySources").as_array();
    REQUIRE(sources.size() == 3);
    CHECK(sources[0].at("name").as_string().ends_with("billing-prod.yml"));
    CHECK(sources[0].at("source").at("server.port") == 9443);
    CHECK(sources[1].at("source").at("server.port") == 9000);
    CHECK(sources[2].at("source").at("shared") == "hello");
    auto labelled = h.admin(RouteCall{"GET", "/billing/prod/main"});
    REQUIRE(labelled.status == 200);
    CHECK(json::parse(labelled.body).at("label") == "main");
}

TEST_CASE("the yml and properties documents are the merged view") {
    Harness h;
    auto yml = h.admin(RouteCall{"GET", "/billing-prod.yml"});
    REQUIRE(yml.status == 200);
    CHECK(yml.header("Content-Type").starts_with("text/plain"));
    CHECK(yml.body.find("port: 9443") != std::string::npos);
    CHECK(yml.body.find("shared: hello") != std::string::npos);
    CHECK(h.admin(RouteCall{"GET", "/billing-prod.yaml"}).body == yml.body);
    auto props = h.admin(RouteCall{"GET", "/billing-prod.properties"});
    REQUIRE(props.status == 200);
    CHECK(props.body.find("server.port=9443\n") != std::string::npos);
    CHECK(props.body.find("feature=true\n") != std::string::npos);
    CHECK(h.admin(RouteCall{"GET", "/billing.txt"}).status == 404);
    CHECK(h.admin(RouteCall{"GET", "/billing.yml"}).status == 404);
}

TEST_CASE("an unknown application is 404 with or without credentials") {
    Harness h;
    auto r = h.call(RouteCall{"GET", "/nobody/default"});
    CHECK(r.status == 404);
    CHECK(json::parse(r.body).at("path") == "/nobody/default");
    CHECK(h.admin(RouteCall{"GET", "/nobody/default"}).status == 404);
    CHECK(h.call(RouteCall{"GET", "/nobody-default.yml"}).status == 404);
}

TEST_CASE("reading configuration needs ADMIN or a valid cluster signature") {
    Harness h;
    CHECK(h.call(RouteCall{"GET", "/billing/default"}).status == 401);
    CHECK(h.as({"USER"}, RouteCall{"GET", "/billing/default"}).status == 403);
    CHECK(h.admin(RouteCall{"GET", "/billing/default"}).status == 200);
    CHECK(h.signed_call(RouteCall{"GET", "/billing/default"}).status == 200);
    RouteCall bad{"GET", "/billing/default"};
    lt::test::sign_call(bad, "wrong-secret", h.clock.now());
    CHECK(h.call(bad).status == 401);
    CHECK(h.metrics.counter("lt_cluster_auth_failures_total", "", {"module"}).labels({"config"}).value() == 2);
}

TEST_CASE("a value encrypted through /encrypt is served decrypted and tampered cipher text is refused") {
    Harness h;
    auto enc = h.admin(RouteCall{"POST", "/encrypt", "hunter2"});
    REQUIRE(enc.status == 200);
    CHECK(enc.body != "hunter2");
    std::ofstream(h.dir.path() / "vault.yml") << "db:\n  password: '{cipher}" << enc.body << "'\n  bad: '{cipher}AAAA'\n";
    auto env = h.admin(RouteCall{"GET", "/vault/default"});
    REQUIRE(env.status == 200);
    const auto doc = json::parse(env.body);
    const auto& src = doc.at("propertySources").at(0).at("source");
    CHECK(src.at("db.password") == "hunter2");
    CHECK(src.at("db.bad") == "<n/a>");
    auto dec = h.admin(RouteCall{"POST", "/decrypt", enc.body});
    REQUIRE(dec.status == 200);
    CHECK(dec.body == "hunter2");
    std::string tampered = enc.body;
    tampered[2] = tampered[2] == 'A' ? 'B' : 'A';
    auto refused = h.admin(RouteCall{"POST", "/decrypt", tampered});
    CHECK(refused.status == 400);
    CHECK(json::parse(refused.body).at("status") == 400);
}

TEST_CASE("encrypt and decrypt are ADMIN only and 503 without a key") {
    Harness h;
    CHECK(h.call(RouteCall{"POST", "/encrypt", "x"}).status == 401);
    CHECK(h.as({"USER"}, RouteCall{"POST", "/encrypt", "x"}).status == 403);
    CHECK(h.as({"USER"}, RouteCall{"POST", "/decrypt", "x"}).status == 403);
    Harness keyless(nullptr);
    auto r = keyless.admin(RouteCall{"POST", "/encrypt", "x"});
    CHECK(r.status == 503);
    CHECK(json::parse(r.body).at("message") == "encryption key not configured");
    CHECK(keyless.admin(RouteCall{"POST", "/decrypt", "x"}).status == 503);
}
