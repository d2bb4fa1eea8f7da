// The token module end to end through the gateway: T1–T4, allocation, organizations, and the
// zero-over-admission property under 32 concurrent clients.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::http_call;
using lt::test::TestApp;

namespace {
using lt::test::Account;
using lt::test::admin;
using lt::test::allocate;
using lt::test::signup;
using lt::test::with_admin;

std::string consume_body(const std::string& user, std::int64_t tokens, const std::string& org = "") {
    boost::json::object o{{"userId", user}, {"provider", "openai"}, {"tokens", tokens}, {"prompt", "hello"}};
    if (!org.empty()) o["orgId"] = org;
    return boost::json::serialize(o);
}

std::int64_t remaining(std::uint16_t port, const Account& who, const std::string& query) {
    auto r = http_call(port, "GET", "/api/v1/tokens/quota" + query, "", who.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return boost::json::parse(r.body).as_object().at("remainingTokens").as_int64();
}

/// 32 threads, each on its own keep-alive connection, send consume requests of 1..5 tokens (then
/// 1-token requests so the binding limit can be hit exactly). Returns the admitted total.
std::int64_t hammer(std::uint16_t port, const std::vector<Account>& users, const std::string& org, int per_thread) {
    std::atomic<std::int64_t> admitted{0};
    std::atomic<int> unexpected{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 32; ++t) {
        threads.emplace_back([&, t] {
            const auto& u = users[static_cast<std::size_t>(t) % users.size()];
            lt::test::TestConnection c(port);
            for (int i = 0; i < per_thread; ++i) {
                std::int64_t n = i < per_thread / 2 ? 1 + (t + i) % 5 : 1;
                auto r = c.request("POST", "/api/v1/tokens/consume", consume_body(u.id, n, org), u.auth());
                if (r.status == 200) admitted += n;
                else if (r.status != 402 && r.status != 429) unexpected++;
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(unexpected == 0);
    return admitted;
}
}  // namespace

TEST_CASE("token status is public") {
    TestApp app;
    auto r = http_call(app.port(), "GET", "/api/v1/tokens/status");
    CHECK(r.status == 200);
    auto o = boost::json::parse(r.body).as_object();
    CHECK(o.at("service") == "token-service");
    CHECK(o.at("status") == "ok");
}

TEST_CASE("consume validates in the original order and checks ownership after validation") {
    TestApp app(with_admin());
    auto u = signup(app.port(), "val");
    auto other = signup(app.port(), "other");
    auto post = [&](const std::string& body, const Account& who) {
        return http_call(app.port(), "POST", "/api/v1/tokens/consume", body, who.auth());
    };
    auto msg = [](const lt::test::HttpResult& r) {
        return std::string(boost::json::parse(r.body).as_object().at("message").as_string());
    };
    CHECK(msg(post(R"({"provider":"openai","tokens":5})", u)) == "userId is required");
    CHECK(msg(post(R"({"userId":")" + u.id + R"(","tokens":5})", u)) == "provider is required");
    CHECK(msg(post(R"({"userId":")" + u.id + R"(","provider":"openai"})", u)) == "tokens must be positive");
    CHECK(msg(post(R"({"userId":")" + u.id + R"(","provider":"openai","tokens":-3})", u)) == "tokens must be positive");
    CHECK(msg(post(R"({"userId":")" + u.id + R"(","provider":"openai","tokens":3000000000})", u)) == "tokens too large");
    CHECK(msg(post(R"({"userId":")" + u.id + R"(","provider":"openai","tokens":100000000000000000000000})", u)) ==
          "tokens too large");
    CHECK(post(R"({"userId":")" + u.id + R"(","provider":"openai","tokens":"5"})", u).status == 400);
    CHECK(post(R"({"userId":")" + u.id + R"(","provider":"openai","tokens":1.5})", u).status == 400);
    CHECK(msg(post(R"({"userId":"nope","provider":"openai","tokens":5})", u)) == "invalid userId");
    CHECK(msg(post(R"({"userId":")" + u.id + R"(","orgId":"x","provider":"openai","tokens":5})", u)) == "invalid orgId");
    CHECK(msg(post(R"({"userId":")" + u.id + R"(","provider":"mistral","tokens":5})", u)) == "unknown provider");
    CHECK(post(R"({"userId":")" + other.id + R"(","provider":"mistral","tokens":5})", u).status == 400);
    CHECK(post(R"({"userId":")" + other.id + R"(","provider":"openai","tokens":5})", u).status == 403);
    CHECK(post("[1]", u).status == 400);
    CHECK(post(R"({"userId":")" + u.id + R"(","provider":"openai","tokens":5})", u).status == 402);
}

TEST_CASE("a funded consume answers the original body with rate-limit headers and debits the quota") {
    TestApp app(with_admin());
    auto root = admin(app.port());
    auto u = signup(app.port(), "fund");
    allocate(app.port(), root, "userId", u.id, 500);
    auto r = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 50), u.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto o = boost::json::parse(r.body).as_object();
    CHECK(o.at("allowed") == true);
    CHECK(o.at("capacity") == 1000);
    CHECK(o.at("used") == 50);
    CHECK(o.at("remaining") == 950);
    CHECK(o.at("waitSeconds") == 0);
    CHECK(o.at("providerResponse").as_object().at("message") == "Stubbed OpenAI response");
    CHECK(r.header("x-ratelimit-limit") == "1000");
    CHECK(r.header("x-ratelimit-remaining") == "950");
    CHECK(r.header("x-ratelimit-used") == "50");
    CHECK(r.header("x-ratelimit-reset") == "0");
    // The bucket's policy first, then the edge limiter's (CONTRACT 17, 27), as one structured list.
    CHECK(r.header("ratelimit-policy") == "\"bucket\";q=1000;w=100, \"edge\";q=200;w=60");
    CHECK(r.header("ratelimit").rfind("\"bucket\";r=950;t=0, \"edge\";r=", 0) == 0);
    auto q = http_call(app.port(), "GET", "/api/v1/tokens/quota?userId=" + u.id + "&provider=OpenAI", "", u.auth());
    REQUIRE(q.status == 200);
    auto qo = boost::json::parse(q.body).as_object();
    CHECK(qo.at("totalTokens") == 500);
    CHECK(qo.at("remainingTokens") == 450);
    CHECK(qo.at("purchasedTokens") == 0);
    CHECK(qo.at("provider") == "openai");
    CHECK(qo.contains("resetTime"));
}

TEST_CASE("a request larger than the bucket is a 429 with Retry-After and the error fields, and refunds the quota") {
    TestApp app(with_admin());
    auto root = admin(app.port());
    auto u = signup(app.port(), "big");
    allocate(app.port(), root, "userId", u.id, 5000);
    auto r = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 1001), u.auth());
    CHECK(r.status == 429);
    auto o = boost::json::parse(r.body).as_object();
    CHECK(o.at("allowed") == false);
    CHECK(o.at("used") == 0);
    CHECK(o.at("remaining") == 1000);
    CHECK(o.at("waitSeconds") == 1);
    CHECK(o.at("message") == "rate limit exceeded");
    CHECK(o.at("status") == 429);
    CHECK(o.at("providerResponse").as_object().empty());
    CHECK(r.header("retry-after") == "1");
    CHECK(r.header("x-ratelimit-reset") == "1");
    CHECK(remaining(app.port(), u, "?userId=" + u.id + "&provider=openai") == 5000);
}

TEST_CASE("402 wins over 429 and leaves the bucket untouched, whichever of quota and bucket is asked first") {
    // Embedded: reserve first. Production (shared ledger): bucket first, then a refused reservation
    // refunds the bucket and a refused bucket asks whether the pool could have covered the request.
    TestApp app(with_admin());
    auto root = admin(app.port());
    auto u = signup(app.port(), "first");
    allocate(app.port(), root, "userId", u.id, 300);
    // Neither the bucket (capacity 1000) nor the pool can take 1001 tokens: 402, no bucket headers.
    auto both = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 1001), u.auth());
    CHECK(both.status == 402);
    CHECK(both.header("x-ratelimit-limit").empty());
    CHECK(both.header("retry-after").empty());
    // The bucket could take 600, the pool cannot: 402, and the bucket keeps its full capacity.
    auto quota_only = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 600), u.auth());
    CHECK(quota_only.status == 402);
    CHECK(quota_only.header("x-ratelimit-limit").empty());
    allocate(app.port(), root, "userId", u.id, 5000);
    auto full = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 1000), u.auth());
    CHECK(full.status == 200);
    CHECK(full.header("x-ratelimit-remaining") == "0");
    // Now the bucket refuses and the pool covers: 429 with its headers, nothing debited.
    auto limited = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 100), u.auth());
    CHECK(limited.status == 429);
    CHECK(limited.header("x-ratelimit-limit") == "1000");
    CHECK(remaining(app.port(), u, "?userId=" + u.id + "&provider=openai") == 4000);
    // The bucket refuses and the pool cannot cover: 402 again.
    auto poor = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 4001), u.auth());
    CHECK(poor.status == 402);
    CHECK(poor.header("x-ratelimit-limit").empty());
}

TEST_CASE("a provider failure is a 502 and refunds both the bucket and the quota") {
    TestApp app(with_admin({"providers.openai.failure-rate=1", "token.provider.retry.wait=1ms"}));
    auto root = admin(app.port());
    auto u = signup(app.port(), "fail");
    allocate(app.port(), root, "userId", u.id, 300);
    auto r = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 100), u.auth());
    CHECK(r.status == 502);
    CHECK(boost::json::parse(r.body).as_object().at("message") == "provider call failed");
    CHECK(remaining(app.port(), u, "?userId=" + u.id + "&provider=openai") == 300);
    CHECK(r.header("x-ratelimit-limit") == "1000");
    // The bucket was refunded too: the full capacity is still available (1000 > quota 300 → 402, not 429).
    auto again = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(u.id, 301), u.auth());
    CHECK(again.status == 402);
    CHECK(again.header("x-ratelimit-limit").empty());
}

TEST_CASE("quota lookups: validation, ownership, not found, and the admin's view") {
    TestApp app(with_admin());
    auto root = admin(app.port());
    auto u = signup(app.port(), "look");
    auto other = signup(app.port(), "peek");
    auto get = [&](const std::string& q, const Account& who) {
        return http_call(app.port(), "GET", "/api/v1/tokens/quota" + q, "", who.auth());
    };
    CHECK(get("?provider=openai", u).status == 400);
    CHECK(get("?userId=" + u.id, u).status == 400);
    CHECK(get("?userId=bad&provider=openai", u).status == 400);
    CHECK(get("?userId=" + u.id + "&provider=mistral", u).status == 400);
    CHECK(get("?userId=" + u.id + "&provider=openai", other).status == 403);
    CHECK(get("?userId=" + u.id + "&provider=openai", u).status == 404);
    allocate(app.port(), root, "userId", u.id, 70);
    CHECK(get("?userId=" + u.id + "&provider=openai", u).status == 200);
    CHECK(get("?userId=" + u.id + "&provider=openai", root).status == 200);
    CHECK(http_call(app.port(), "GET", "/api/v1/tokens/quota?userId=" + u.id + "&provider=openai").status == 401);
}

TEST_CASE("allocation is admin-only, needs exactly one owner and a registered user, and caps user pools by tier") {
    TestApp app(with_admin());
    auto root = admin(app.port());
    auto u = signup(app.port(), "alloc");
    auto put = [&](const std::string& body, const Account& who) {
        return http_call(app.port(), "PUT", "/api/v1/tokens/quota", body, who.auth());
    };
    CHECK(put(R"({"userId":")" + u.id + R"(","provider":"openai","allowanceTokens":10})", u).status == 403);
    CHECK(put(R"({"provider":"openai","allowanceTokens":10})", root).status == 400);
    CHECK(put(R"({"userId":")" + u.id + R"(","orgId":")" + u.id + R"(","provider":"openai","allowanceTokens":10})", root)
              .status == 400);
    CHECK(put(R"({"userId":"00000000-0000-4000-8000-000000000000","provider":"openai","allowanceTokens":10})", root)
              .status == 404);
    auto capped = put(R"({"userId":")" + u.id + R"(","provider":"openai","allowanceTokens":900000})", root);
    REQUIRE(capped.status == 200);
    CHECK(boost::json::parse(capped.body).as_object().at("totalTokens") == 100000);  // USER tier cap
}

TEST_CASE("organizations: admin creates, members use the org pool, outsiders get 403") {
    TestApp app(with_admin());
    auto root = admin(app.port());
    auto a = signup(app.port(), "orga");
    auto b = signup(app.port(), "orgb");
    auto org_id = std::string("6f1c2d3e-4b5a-4c6d-8e7f-112233445566");
    auto created = http_call(app.port(), "POST", "/api/v1/tokens/orgs",
                             R"({"name":"Acme","orgId":")" + org_id + "\"}", root.auth());
    REQUIRE_MESSAGE(created.status == 201, created.body);
    CHECK(http_call(app.port(), "POST", "/api/v1/tokens/orgs", R"({"name":"Acme","orgId":")" + org_id + "\"}",
                    root.auth())
              .status == 409);
    CHECK(http_call(app.port(), "POST", "/api/v1/tokens/orgs", R"({"name":"X"})", a.auth()).status == 403);
    CHECK(http_call(app.port(), "PUT", "/api/v1/tokens/orgs/" + org_id + "/members/" + a.id, "", root.auth()).status ==
          204);
    CHECK(http_call(app.port(), "PUT", "/api/v1/tokens/orgs/" + org_id + "/members/00000000-0000-4000-8000-000000000001",
                    "", root.auth())
              .status == 404);
    allocate(app.port(), root, "orgId", org_id, 100);
    auto ok = http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(a.id, 30, org_id), a.auth());
    CHECK(ok.status == 200);
    CHECK(http_call(app.port(), "POST", "/api/v1/tokens/consume", consume_body(b.id, 30, org_id), b.auth()).status == 403);
    CHECK(remaining(app.port(), a, "/org?orgId=" + org_id + "&provider=openai") == 70);
    CHECK(http_call(app.port(), "GET", "/api/v1/tokens/quota/org?orgId=" + org_id + "&provider=openai", "", b.auth())
              .status == 403);
    auto members = http_call(app.port(), "GET", "/api/v1/tokens/orgs/" + org_id + "/members", "", a.auth());
    REQUIRE(members.status == 200);
    CHECK(boost::json::parse(members.body).as_object().at("members").as_array().size() == 1);
    CHECK(http_call(app.port(), "GET", "/api/v1/tokens/orgs/00000000-0000-4000-8000-000000000002/members", "",
                    root.auth())
              .status == 404);
}

TEST_CASE("32 concurrent clients never get more than the quota, and the remaining quota is exact") {
    // The edge limit (200 per minute and user on token-service) would cap the hammer first.
    TestApp app(with_admin({"token.bucket.leak-rate-per-second=0.0001", "token.bucket.capacity=100000",
                            "gateway.rate-limit.enabled=false"}));
    auto root = admin(app.port());
    auto u = signup(app.port(), "hammer");
    allocate(app.port(), root, "userId", u.id, 300);
    auto admitted = hammer(app.port(), {u}, "", 24);
    CHECK(admitted == 300);
    CHECK(remaining(app.port(), u, "?userId=" + u.id + "&provider=openai") == 0);
}

TEST_CASE("32 concurrent clients never get more than the bucket, and the quota is debited by exactly what was admitted") {
    TestApp app(with_admin({"token.bucket.leak-rate-per-second=0.0001", "token.bucket.capacity=200",
                            "gateway.rate-limit.enabled=false"}));
    auto root = admin(app.port());
    auto u = signup(app.port(), "bucket");
    allocate(app.port(), root, "userId", u.id, 10000);
    auto admitted = hammer(app.port(), {u}, "", 24);
    CHECK(admitted == 200);
    CHECK(remaining(app.port(), u, "?userId=" + u.id + "&provider=openai") == 10000 - admitted);
}

TEST_CASE("an org pool shared by several users is never overdrawn under concurrency") {
    // The edge limit (200 per minute and user on token-service) would cap the hammer first.
    TestApp app(with_admin({"token.bucket.leak-rate-per-second=0.0001", "token.bucket.capacity=100000",
                            "gateway.rate-limit.enabled=false"}));
    auto root = admin(app.port());
    std::string org_id = "7a1c2d3e-4b5a-4c6d-8e7f-112233445566";
    REQUIRE(http_call(app.port(), "POST", "/api/v1/tokens/orgs", R"({"name":"Shared","orgId":")" + org_id + "\"}",
                      root.auth())
                .status == 201);
    std::vector<Account> members;
    for (int i = 0; i < 4; ++i) {
        members.push_back(signup(app.port(), "member" + std::to_string(i)));
        REQUIRE(http_call(app.port(), "PUT", "/api/v1/tokens/orgs/" + org_id + "/members/" + members.back().id, "",
                          root.auth())
                    .status == 204);
    }
    allocate(app.port(), root, "orgId", org_id, 250);
    auto admitted = hammer(app.port(), members, org_id, 24);
    CHECK(admitted == 250);
    CHECK(remaining(app.port(), members[0], "/org?orgId=" + org_id + "&provider=openai") == 0);
}
