// Split mode with the real executable (issue 10, CONTRACT 32-36): four `leaky-tokens serve` processes,
// each with its own data directory and SQLite files and no external server,
//   gateway+registry+config | auth | token+providers | analytics,
// sharing cluster.secret and registering with the registry in the first. Every request goes through
// the gateway, which proxies to the owners; commands and events cross processes over the signed
// internal endpoints, usage and purchase events over the forwarded in-memory event log.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_http.hpp"

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using lt::test::http_call;
using lt::test::HttpResult;

constexpr const char* kSecret = "split-mode-test-secret-0123456789";

/// The four processes, started in order (the registry first) and stopped in reverse.
struct Cluster {
    lt::test::TempDir dir{"split-mode"};
    std::uint16_t gateway_port = lt::test::free_port();
    std::vector<std::unique_ptr<lt::test::ServerProcess>> procs;

    Cluster() {
        const std::string registry = "http://127.0.0.1:" + std::to_string(gateway_port);
        auto common = [&](std::vector<std::string> extra) {
            std::vector<std::string> sets{"registry.url=" + registry, "registry.fetch-interval=200ms",
                                          "registry.heartbeat-interval=1s"};
            for (auto& e : extra) sets.push_back(std::move(e));
            return sets;
        };
        // The secret as a key in three processes and from the environment in one (CONTRACT 34).
        // The edge limit off: the readiness probes below poll public routes quickly.
        start("gateway", gateway_port, "gateway,registry,config",
              common({std::string("cluster.secret=") + kSecret, "gateway.rate-limit.enabled=false"}), {});
        start("auth", lt::test::free_port(), "auth",
              common({std::string("cluster.secret=") + kSecret, "auth.bootstrap-admin.username=root",
                      "auth.bootstrap-admin.password=root-password-1"}),
              {});
        start("token", lt::test::free_port(), "token,providers", common({std::string("cluster.secret=") + kSecret}), {});
        start("analytics", lt::test::free_port(), "analytics", common({}),
              {std::string("LEAKY_CLUSTER_SECRET=") + kSecret});
    }
    ~Cluster() {
        while (!procs.empty()) procs.pop_back();
    }

    void start(const std::string& name, std::uint16_t port, const std::string& modules, std::vector<std::string> sets,
               std::vector<std::string> env) {
        procs.push_back(std::make_unique<lt::test::ServerProcess>(
            dir.path() / name, port, lt::test::ServerSpec{std::move(sets), modules, std::move(env), "info"}));
    }
    std::uint16_t port(std::size_t i) const { return procs.at(i)->port(); }
};

/// Polls `f` every 50 ms until it returns true or `limit` passed.
bool eventually(const std::function<bool()>& f, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
        try {
            if (f()) return true;
        } catch (const std::exception&) {
        }
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(50ms);
    }
}

json::object object_of(const HttpResult& r) { return json::parse(r.body).as_object(); }

HttpResult consume(std::uint16_t port, const std::string& user_id, const std::string& key, std::int64_t tokens) {
    return http_call(port, "POST", "/api/v1/tokens/consume",
                     json::serialize(json::object{{"userId", user_id}, {"provider", "openai"}, {"tokens", tokens},
                                                  {"prompt", "hello"}}),
                     {{"X-Api-Key", key}});
}

}  // namespace

TEST_CASE("four processes behind one gateway answer the public API as one process") {
    Cluster c;
    const auto gw = c.gateway_port;
    // Every module is reachable through the gateway once the registry tables are fetched.
    REQUIRE_MESSAGE(eventually(
                        [&] {
                            return http_call(gw, "GET", "/api/v1/tokens/status").status == 200 &&
                                   http_call(gw, "GET", "/api/v1/analytics/health").status == 200 &&
                                   http_call(gw, "POST", "/api/v1/auth/login", R"({"username":"x","password":"y"})")
                                           .status == 401;
                        },
                        10s),
                    "the gateway did not find auth, token and analytics in the registry");
    // The registry lists every module with the advertise URL of its process.
    auto apps = http_call(gw, "GET", "/api/v1/tokens/status");
    CHECK(apps.status == 200);

    // Register, log in, create an API key (auth process).
    auto u = lt::test::signup(gw, "splitter");
    auto key_res = http_call(gw, "POST", "/api/v1/auth/api-keys",
                             json::serialize(json::object{{"userId", u.id}, {"name", "split"}}), u.auth());
    REQUIRE_MESSAGE(key_res.status == 201, key_res.body);
    const std::string key(object_of(key_res).at("apiKey").as_string());

    // The bootstrap admin allocates quota (the token process asks the auth process about the user).
    auto root = lt::test::admin(gw);
    lt::test::allocate(gw, root, "userId", u.id, 100);

    // Consume with the API key: proxied to the token process, which calls the providers locally.
    auto first = consume(gw, u.id, key, 40);
    REQUIRE_MESSAGE(first.status == 200, first.body);
    CHECK_FALSE(first.header("x-ratelimit-limit").empty());
    CHECK_FALSE(first.header("x-ratelimit-remaining").empty());
    CHECK(first.header("x-correlation-id").size() > 0);
    auto second = consume(gw, u.id, key, 40);
    REQUIRE_MESSAGE(second.status == 200, second.body);
    auto refused = consume(gw, u.id, key, 40);
    CHECK_MESSAGE((refused.status == 402 || refused.status == 429), refused.body);

    // Purchase: 202, then the saga completes in the token process.
    auto headers = u.auth();
    headers["Idempotency-Key"] = "split-order-1";
    auto purchase = http_call(gw, "POST", "/api/v1/tokens/purchase",
                              json::serialize(json::object{{"userId", u.id}, {"provider", "openai"}, {"tokens", 500}}),
                              headers);
    REQUIRE_MESSAGE(purchase.status == 202, purchase.body);
    const std::string saga(object_of(purchase).at("sagaId").as_string());
    CHECK(eventually(
        [&] {
            auto r = http_call(gw, "GET", "/api/v1/tokens/purchase/" + saga, "", u.auth());
            return r.status == 200 && object_of(r).at("status") == "COMPLETED";
        },
        10s));

    // Analytics (its own process) counts the two admitted consumes once: the events crossed from the
    // token process's outbox to the analytics process's event log.
    auto report = [&] {
        auto r = http_call(gw, "GET", "/api/v1/analytics/report?provider=openai", "", u.auth());
        REQUIRE_MESSAGE(r.status == 200, r.body);
        return object_of(r);
    };
    CHECK_MESSAGE(eventually([&] { return report().at("totalTokens").as_int64() >= 80; }, 10s), json::serialize(report()));
    std::this_thread::sleep_for(500ms);
    CHECK(report().at("totalTokens").as_int64() == 80);

    // Revocation reaches the gateway process before the 204: the next request with the key is 401.
    auto list = http_call(gw, "GET", "/api/v1/auth/api-keys?userId=" + u.id, "", u.auth());
    REQUIRE_MESSAGE(list.status == 200, list.body);
    const std::string key_id(json::parse(list.body).as_array().at(0).as_object().at("id").as_string());
    auto del = http_call(gw, "DELETE", "/api/v1/auth/api-keys?userId=" + u.id + "&apiKeyId=" + key_id, "", u.auth());
    REQUIRE(del.status == 204);
    const auto revoked_at = std::chrono::steady_clock::now();
    auto after = consume(gw, u.id, key, 1);
    CHECK(after.status == 401);
    CHECK(std::chrono::steady_clock::now() - revoked_at < 1s);

    // Internal endpoints and hosted routes refuse calls without a valid cluster signature.
    for (std::size_t i = 0; i < c.procs.size(); ++i) {
        CAPTURE(i);
        auto r = http_call(c.port(i), "POST", "/internal/bus/call/auth.jwks.v1", R"({"body":{},"ctx":{}})");
        CHECK(r.status == 401);
        auto forged = http_call(c.port(i), "POST", "/internal/bus/call/auth.jwks.v1", R"({"body":{},"ctx":{}})",
                                {{"X-Lt-Cluster-Time", "1"}, {"X-Lt-Cluster-Signature", "00"}});
        CHECK(forged.status == 401);
    }
    CHECK(http_call(c.port(2), "GET", "/api/v1/tokens/status").status == 401);
    CHECK(http_call(c.port(1), "POST", "/api/v1/auth/login", R"({"username":"root","password":"root-password-1"})")
              .status == 401);
    auto metrics = http_call(c.port(1), "GET", "/actuator/prometheus").body;
    CHECK(metrics.find("cluster_auth_failures_total") != std::string::npos);

    // Every process serves its own health.
    for (std::size_t i = 0; i < c.procs.size(); ++i) {
        CAPTURE(i);
        auto h = http_call(c.port(i), "GET", "/actuator/health");
        CHECK(h.status == 200);
        CHECK(object_of(h).at("status") == "UP");
    }
}

TEST_CASE("a crashed instance is skipped, the last table serves while the registry restarts, and instances register again") {
    lt::test::TempDir dir{"split-failover"};
    const auto registry_port = lt::test::free_port();
    const std::string registry = "http://127.0.0.1:" + std::to_string(registry_port);
    auto sets = [&](std::vector<std::string> extra) {
        std::vector<std::string> s{"registry.url=" + registry, "registry.fetch-interval=200ms",
                                   "registry.heartbeat-interval=500ms", std::string("cluster.secret=") + kSecret};
        for (auto& e : extra) s.push_back(std::move(e));
        return s;
    };
    auto start = [&](const std::string& name, std::uint16_t port, const std::string& modules,
                     std::vector<std::string> extra = {}) {
        return std::make_unique<lt::test::ServerProcess>(dir.path() / name, port,
                                                         lt::test::ServerSpec{sets(std::move(extra)), modules, {}, "info"});
    };
    auto reg = start("registry", registry_port, "registry");
    auto gateway = start("gateway", lt::test::free_port(), "gateway", {"gateway.rate-limit.enabled=false"});
    auto auth = start("auth", lt::test::free_port(), "auth",
                      {"auth.bootstrap-admin.username=root", "auth.bootstrap-admin.password=root-password-1"});
    auto token = start("token", lt::test::free_port(), "token,analytics");
    // Two instances of the stateless providers module: the token process calls provider.chat.v1 remotely.
    auto providers_a = start("providers-a", lt::test::free_port(), "providers");
    auto providers_b = start("providers-b", lt::test::free_port(), "providers");
    const auto gw = gateway->port();

    REQUIRE(eventually(
        [&] {
            return http_call(gw, "GET", "/api/v1/tokens/status").status == 200 &&
                   http_call(gw, "POST", "/api/v1/auth/login", R"({"username":"x","password":"y"})").status == 401;
        },
        10s));
    auto u = lt::test::signup(gw, "failover");
    auto root = lt::test::admin(gw);
    lt::test::allocate(gw, root, "userId", u.id, 100000);
    auto consume_jwt = [&] {
        return http_call(gw, "POST", "/api/v1/tokens/consume",
                         json::serialize(json::object{{"userId", u.id}, {"provider", "openai"}, {"tokens", 1}, {"prompt", "hi"}}),
                         u.auth());
    };
    // Both providers instances known to the token process before the crash.
    REQUIRE(eventually(
        [&] {
            auto r = http_call(gw, "GET", "/eureka/apps/PROVIDERS", "", {{"Accept", "application/json"}, {"Authorization", "Bearer " + root.token}});
            return r.status == 200 && r.body.find(std::to_string(providers_b->port())) != std::string::npos &&
                   r.body.find(std::to_string(providers_a->port())) != std::string::npos;
        },
        10s));
    std::this_thread::sleep_for(500ms);
    for (int i = 0; i < 4; ++i) {
        auto r = consume_jwt();
        CHECK_MESSAGE(r.status == 200, r.body);
    }

    // A crashed providers instance (still in the registry until its lease expires): every consume still
    // answers 200, the failed connection retried on the other instance.
    providers_a->kill_hard();
    for (int i = 0; i < 6; ++i) {
        auto r = consume_jwt();
        CHECK_MESSAGE(r.status == 200, r.body);
    }

    // The registry goes away: the processes keep their last table.
    reg->stop();
    std::this_thread::sleep_for(600ms);
    for (int i = 0; i < 3; ++i) {
        auto r = consume_jwt();
        CHECK_MESSAGE(r.status == 200, r.body);
    }

    // A new, empty registry on the same port: renewals answered 404 register every instance again.
    reg = start("registry-2", registry_port, "registry");
    CHECK(eventually(
        [&] {
            auto r = http_call(gw, "GET", "/eureka/apps", "", {{"Accept", "application/json"}, {"Authorization", "Bearer " + root.token}});
            if (r.status != 200) return false;
            for (const char* app : {"\"GATEWAY\"", "\"AUTH\"", "\"TOKEN\"", "\"ANALYTICS\"", "\"PROVIDERS\""}) {
                if (r.body.find(app) == std::string::npos) return false;
            }
            return true;
        },
        10s));
    // The gateway's own table follows at its next fetch (registry.fetch-interval).
    CHECK(eventually([&] { return consume_jwt().status == 200; }, 2s));

    // A module with no instance left: 503 `service unavailable` through the gateway.
    providers_b->stop();
    auth.reset();  // SIGTERM: deregisters
    CHECK(eventually([&] {
        auto res = http_call(gw, "POST", "/api/v1/auth/login", R"({"username":"root","password":"root-password-1"})");
        return res.status == 503 && lt::test::message_of(res) == "service unavailable";
    }, 5s));
}

TEST_CASE("the OpenAI-compatible API works through the gateway proxy, streams included, charged exactly") {
    Cluster c;
    const auto gw = c.gateway_port;
    REQUIRE(eventually(
        [&] {
            return http_call(gw, "GET", "/api/v1/tokens/status").status == 200 &&
                   http_call(gw, "POST", "/api/v1/auth/login", R"({"username":"x","password":"y"})").status == 401;
        },
        10s));
    auto u = lt::test::signup(gw, "splitchat");
    auto key_res = http_call(gw, "POST", "/api/v1/auth/api-keys",
                             json::serialize(json::object{{"userId", u.id}, {"name", "sdk"}}), u.auth());
    REQUIRE_MESSAGE(key_res.status == 201, key_res.body);
    const std::map<std::string, std::string> bearer{
        {"Authorization", "Bearer " + std::string(object_of(key_res).at("apiKey").as_string())}};
    auto root = lt::test::admin(gw);
    lt::test::allocate(gw, root, "userId", u.id, 1000);
    auto remaining = [&] {
        auto q = http_call(gw, "GET", "/api/v1/tokens/quota?userId=" + u.id + "&provider=openai", "", u.auth());
        return object_of(q).at("remainingTokens").as_int64();
    };

    auto models = http_call(gw, "GET", "/v1/models", "", bearer);
    REQUIRE_MESSAGE(models.status == 200, models.body);
    const std::string msgs = R"("messages":[{"role":"user","content":"Hello through the proxy"}])";
    auto plain = http_call(gw, "POST", "/v1/chat/completions", R"({"model":"gpt-4o-mini",)" + msgs + "}", bearer);
    REQUIRE_MESSAGE(plain.status == 200, plain.body);
    auto used = object_of(plain).at("usage").as_object().at("total_tokens").as_int64();
    CHECK(remaining() == 1000 - used);

    auto stream = http_call(gw, "POST", "/v1/chat/completions",
                            R"({"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},)" + msgs + "}",
                            bearer);
    REQUIRE_MESSAGE(stream.status == 200, stream.body);
    CHECK(stream.header("content-type") == "text/event-stream");
    CHECK(stream.body.find("data: [DONE]") != std::string::npos);
    auto at = stream.body.find("\"usage\":{");
    REQUIRE(at != std::string::npos);
    auto line_end = stream.body.find("\n\n", at);
    auto line_start = stream.body.rfind("data: ", at) + 6;
    auto chunk = json::parse(stream.body.substr(line_start, line_end - line_start)).as_object();
    auto streamed = chunk.at("usage").as_object().at("total_tokens").as_int64();
    CHECK(remaining() == 1000 - used - streamed);

    auto missing = http_call(gw, "POST", "/v1/chat/completions", R"({"model":"nope",)" + msgs + "}", bearer);
    CHECK(missing.status == 404);
    CHECK(missing.body.find("model_not_found") != std::string::npos);
    auto anonymous = http_call(gw, "GET", "/v1/models");
    CHECK(anonymous.status == 401);
    CHECK(anonymous.body.find("\"error\":{") != std::string::npos);
}
