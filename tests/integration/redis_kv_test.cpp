// The whole app with storage.kv.driver=redis on a throwaway redis-server: consume keeps its bucket in
// Redis, answers 503 without debiting anything while Redis is down (readiness names `redis` DOWN), and
// serves again by itself when a Redis is back on the same port.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/redis_server.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

namespace {

using lt::test::http_call;

std::string consume_body(const std::string& user, std::int64_t tokens) {
    boost::json::object o{{"userId", user}, {"provider", "openai"}, {"tokens", tokens}, {"prompt", "hello"}};
    return boost::json::serialize(o);
}

std::int64_t remaining(std::uint16_t port, const lt::test::Account& who) {
    auto r = http_call(port, "GET", "/api/v1/tokens/quota?userId=" + who.id + "&provider=openai", "", who.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return boost::json::parse(r.body).as_object().at("remainingTokens").as_int64();
}

}  // namespace

TEST_CASE("consume on a redis key value store answers 503 while redis is down and recovers by itself") {
    if (!lt::test::redis_server_installed()) {
        MESSAGE("skipped: redis-server is not installed");
        return;
    }
    auto server = lt::test::RedisServer::start();
    REQUIRE(server != nullptr);
    lt::test::TestApp app(lt::test::with_admin(
        {"storage.kv.driver=redis", "storage.kv.url=" + server->url(), "storage.kv.timeout=300ms"}));
    auto root = lt::test::admin(app.port());
    auto u = lt::test::signup(app.port(), "redis");
    lt::test::allocate(app.port(), root, "userId", u.id, 5000);

    auto first = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 50), u.auth());
    REQUIRE_MESSAGE(first.status == 200, first.body);
    CHECK(first.header("x-ratelimit-used") == "50");
    auto client = lt::test::RedisClient::connect(server->url());
    REQUIRE(client != nullptr);
    CHECK(client->command({"EXISTS", "token-bucket:" + u.id + ":openai"}) == "1");
    auto second = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 30), u.auth());
    REQUIRE_MESSAGE(second.status == 200, second.body);
    // The bucket lives in Redis: it still holds the first 50 (less what leaked meanwhile on a loaded
    // machine), so the second call sees more than its own 30.
    const auto used = std::stoll(second.header("x-ratelimit-used"));
    CHECK(used > 30);
    CHECK(used <= 80);
    CHECK(remaining(app.port(), u) == 5000 - 80);

    auto ready = http_call(app.port(), "GET", "/actuator/health/readiness");
    CHECK(ready.status == 200);
    CHECK(boost::json::parse(ready.body).at("components").at("redis").at("status") == "UP");

    server->kill();
    for (int i = 0; i < 5; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        auto down = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 10), u.auth());
        CHECK(down.status == 503);
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1000));
    }

    auto not_ready = http_call(app.port(), "GET", "/actuator/health/readiness");
    CHECK(not_ready.status == 503);
    CHECK(boost::json::parse(not_ready.body).at("components").at("redis").at("status") == "DOWN");

    REQUIRE(server->restart());
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
        status = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 10), u.auth()).status;
        if (status == 200) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(status == 200);
    // The 503s debited nothing: only the three admitted consumes count. (While Redis is down the
    // quota endpoint answers 503 too: the gateway's edge limiter lives in the same store.)
    CHECK(remaining(app.port(), u) == 5000 - 90);
    CHECK(http_call(app.port(), "GET", "/actuator/health/readiness").status == 200);
}
