// The purchase saga end to end through the gateway (T5, T6): validation order and messages,
// ownership, idempotency per user, the feature flag, compensation, and one saga under a race.
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::Account;
using lt::test::admin;
using lt::test::http_call;
using lt::test::message_of;
using lt::test::signup;
using lt::test::TestApp;
using lt::test::with_admin;

namespace {

std::string purchase_body(const std::string& user, std::int64_t tokens, const std::string& provider = "openai",
                          const std::string& org = "") {
    boost::json::object o{{"userId", user}, {"provider", provider}, {"tokens", tokens}};
    if (!org.empty()) o["orgId"] = org;
    return boost::json::serialize(o);
}

lt::test::HttpResult buy(std::uint16_t port, const Account& who, const std::string& body, const std::string& key = "") {
    auto headers = who.auth();
    if (!key.empty()) headers["Idempotency-Key"] = key;
    return http_call(port, "POST", "/api/v1/tokens/purchase", body, headers);
}

boost::json::object json_of(const lt::test::HttpResult& r) { return boost::json::parse(r.body).as_object(); }

boost::json::object quota_of(std::uint16_t port, const Account& who, const std::string& query) {
    auto r = http_call(port, "GET", "/api/v1/tokens/quota" + query, "", who.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return json_of(r);
}

/// The value of an unlabelled Prometheus sample (0 when absent).
double metric(std::uint16_t port, const std::string& name) {
    auto text = http_call(port, "GET", "/actuator/prometheus").body;
    auto pos = text.find("\n" + name + " ");
    if (pos == std::string::npos) return 0;
    return std::stod(text.substr(pos + name.size() + 2));
}

}  // namespace

TEST_CASE("purchase validates in the original order, then the provider, then ownership") {
    TestApp app(with_admin());
    auto u = signup(app.port(), "buyer");
    auto other = signup(app.port(), "someone");
    auto post = [&](const std::string& body, const std::string& key = "") { return buy(app.port(), u, body, key); };
    auto expect_400 = [&](const lt::test::HttpResult& r, const std::string& message) {
        CHECK_MESSAGE(r.status == 400, r.body);
        CHECK(message_of(r) == message);
        auto o = json_of(r);
        CHECK(o.at("status").as_int64() == 400);
        CHECK(o.at("path").as_string() == "/api/v1/tokens/purchase");
    };
    CHECK(http_call(app.port(), "POST", "/api/v1/tokens/purchase", purchase_body(u.id, 5)).status == 401);
    CHECK(post("[1,2]").status == 400);
    CHECK(post("{not json").status == 400);
    expect_400(post(R"({"provider":"openai","tokens":5})"), "userId is required");
    expect_400(post(R"({"userId":"  ","provider":"openai","tokens":5})"), "userId is required");
    expect_400(post(R"({"userId":"x","tokens":5})"), "provider is required");
    expect_400(post(R"({"userId":"x","provider":"openai"})"), "tokens must be positive");
    expect_400(post(R"({"userId":"x","provider":"openai","tokens":0})"), "tokens must be positive");
    expect_400(post(R"({"userId":"x","provider":"openai","tokens":-3})"), "tokens must be positive");
    CHECK(post(R"({"userId":"x","provider":"openai","tokens":"5"})").status == 400);
    CHECK(post(R"({"userId":"x","provider":"openai","tokens":2.5})").status == 400);
    expect_400(post(R"({"userId":"x","provider":"openai","tokens":2147483648})"), "tokens too large");
    expect_400(post(R"({"userId":"x","provider":"openai","tokens":5})", std::string(101, 'k')), "idempotency key too long");
    expect_400(post(purchase_body(u.id, 5, "openai", "not-a-uuid")), "invalid userId or orgId");
    expect_400(post(R"({"userId":"x","provider":"openai","tokens":5})"), "invalid userId or orgId");
    expect_400(post(purchase_body(u.id, 5, "mistral")), "unknown provider");
    // Well-formed but not theirs: 403.
    auto denied = post(purchase_body(other.id, 5));
    CHECK(denied.status == 403);
    CHECK(message_of(denied) == "forbidden");
    // A key of exactly 100 characters is fine, also when they take two bytes each.
    CHECK(post(purchase_body(u.id, 5), std::string(100, 'k')).status == 202);
    std::string accents;
    for (int i = 0; i < 100; ++i) accents += "\xc3\xa9";  // é
    CHECK(post(purchase_body(u.id, 5), accents).status == 202);
    expect_400(post(purchase_body(u.id, 5), accents + "e"), "idempotency key too long");
}

TEST_CASE("a purchase answers 202 with a terminal saga whose record, quota and counters agree") {
    TestApp app(with_admin());
    auto u = signup(app.port(), "happy");
    auto r = buy(app.port(), u, purchase_body(u.id, 1200, "OpenAI"), "order-1");
    REQUIRE_MESSAGE(r.status == 202, r.body);
    auto o = json_of(r);
    CHECK(o.size() == 3);
    CHECK(o.at("status").as_string() == "COMPLETED");
    const std::string saga_id(o.at("sagaId").as_string());
    CHECK(saga_id.size() == 36);
    CHECK(std::string(o.at("createdAt").as_string()).back() == 'Z');

    auto g = http_call(app.port(), "GET", "/api/v1/tokens/purchase/" + saga_id, "", u.auth());
    REQUIRE_MESSAGE(g.status == 200, g.body);
    auto rec = json_of(g);
    CHECK(rec.at("id").as_string() == saga_id);
    CHECK(rec.at("userId").as_string() == u.id);
    CHECK(rec.at("orgId").is_null());
    CHECK(rec.at("provider").as_string() == "openai");
    CHECK(rec.at("tokens").as_int64() == 1200);
    CHECK(rec.at("idempotencyKey").as_string() == "order-1");
    CHECK(rec.at("status").as_string() == "COMPLETED");
    CHECK(rec.at("createdAt") == o.at("createdAt"));
    CHECK(rec.contains("updatedAt"));

    auto q = quota_of(app.port(), u, "?userId=" + u.id + "&provider=openai");
    CHECK(q.at("purchasedTokens").as_int64() == 1200);
    CHECK(q.at("remainingTokens").as_int64() == 1200);
    CHECK(q.at("totalTokens").as_int64() == 1200);

    // Purchased tokens are spendable.
    auto c = http_call(app.port(), "POST", "/api/v1/tokens/consume",
                       R"({"userId":")" + u.id + R"(","provider":"openai","tokens":200})", u.auth());
    CHECK_MESSAGE(c.status == 200, c.body);
    CHECK(quota_of(app.port(), u, "?userId=" + u.id + "&provider=openai").at("purchasedTokens").as_int64() == 1000);

    CHECK(metric(app.port(), "token_purchase_saga_started_total") == 1);
    CHECK(metric(app.port(), "token_purchase_saga_completed_total") == 1);
    CHECK(metric(app.port(), "token_purchase_saga_failed_total") == 0);
}

TEST_CASE("idempotency keys replay per user, another payload is 409, and a blank key is ignored") {
    TestApp app(with_admin());
    auto u = signup(app.port(), "idem");
    auto v = signup(app.port(), "idem2");
    auto first = buy(app.port(), u, purchase_body(u.id, 300), "  key-A  ");
    REQUIRE(first.status == 202);
    auto again = buy(app.port(), u, purchase_body(u.id, 300), "key-A");  // trimmed: the same key
    REQUIRE(again.status == 202);
    CHECK(json_of(again) == json_of(first));
    CHECK(quota_of(app.port(), u, "?userId=" + u.id + "&provider=openai").at("purchasedTokens").as_int64() == 300);

    auto reuse = buy(app.port(), u, purchase_body(u.id, 301), "key-A");
    CHECK(reuse.status == 409);
    CHECK(message_of(reuse) == "Idempotency key reuse with different payload");
    CHECK(buy(app.port(), u, purchase_body(u.id, 300, "qwen"), "key-A").status == 409);

    auto theirs = buy(app.port(), v, purchase_body(v.id, 300), "key-A");  // keys are scoped per user
    REQUIRE(theirs.status == 202);
    CHECK(json_of(theirs).at("sagaId") != json_of(first).at("sagaId"));

    auto blank1 = buy(app.port(), u, purchase_body(u.id, 5), "   ");
    auto blank2 = buy(app.port(), u, purchase_body(u.id, 5), "   ");
    REQUIRE(blank1.status == 202);
    REQUIRE(blank2.status == 202);
    CHECK(json_of(blank1).at("sagaId") != json_of(blank2).at("sagaId"));
    CHECK(quota_of(app.port(), u, "?userId=" + u.id + "&provider=openai").at("purchasedTokens").as_int64() == 310);
    auto rec = json_of(http_call(app.port(), "GET", "/api/v1/tokens/purchase/" +
                                                        std::string(json_of(blank1).at("sagaId").as_string()),
                                 "", u.auth()));
    CHECK(rec.at("idempotencyKey").is_null());
}

TEST_CASE("16 concurrent first requests with one key make one saga and one credit") {
    TestApp app(with_admin());
    auto u = signup(app.port(), "racer");
    std::vector<std::string> ids(16);
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; ++i) {
        threads.emplace_back([&, i] {
            auto r = buy(app.port(), u, purchase_body(u.id, 777), "same-order");
            if (r.status != 202) ++bad;
            else ids[static_cast<std::size_t>(i)] = std::string(json_of(r).at("sagaId").as_string());
        });
    }
    for (auto& t : threads) t.join();
    CHECK(bad.load() == 0);
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 1);
    CHECK(quota_of(app.port(), u, "?userId=" + u.id + "&provider=openai").at("purchasedTokens").as_int64() == 777);
}

TEST_CASE("saga lookups: 400 for a bad id, 404 unknown, 403 for another user, 200 for the owner and ADMIN") {
    TestApp app(with_admin());
    auto u = signup(app.port(), "owner");
    auto other = signup(app.port(), "nosy");
    auto root = admin(app.port());
    auto r = buy(app.port(), u, purchase_body(u.id, 10));
    REQUIRE(r.status == 202);
    const std::string path = "/api/v1/tokens/purchase/" + std::string(json_of(r).at("sagaId").as_string());

    auto bad = http_call(app.port(), "GET", "/api/v1/tokens/purchase/not-a-uuid", "", u.auth());
    CHECK(bad.status == 400);
    CHECK(message_of(bad) == "invalid sagaId");
    auto missing = http_call(app.port(), "GET", "/api/v1/tokens/purchase/00000000-0000-4000-8000-000000000000", "", u.auth());
    CHECK(missing.status == 404);
    CHECK(message_of(missing) == "saga not found");
    auto nosy = http_call(app.port(), "GET", path, "", other.auth());
    CHECK(nosy.status == 403);
    CHECK(http_call(app.port(), "GET", path, "", u.auth()).status == 200);
    CHECK(http_call(app.port(), "GET", path, "", root.auth()).status == 200);
    CHECK(http_call(app.port(), "GET", path).status == 401);
}

TEST_CASE("org purchases need membership and an ADMIN gets 404 for a missing org") {
    TestApp app(with_admin());
    auto root = admin(app.port());
    auto member = signup(app.port(), "member");
    auto outsider = signup(app.port(), "outsider");
    auto org = http_call(app.port(), "POST", "/api/v1/tokens/orgs", R"({"name":"acme"})", root.auth());
    REQUIRE(org.status == 201);
    const std::string org_id(json_of(org).at("orgId").as_string());
    REQUIRE(http_call(app.port(), "PUT", "/api/v1/tokens/orgs/" + org_id + "/members/" + member.id, "", root.auth()).status == 204);

    auto ok = buy(app.port(), member, purchase_body(member.id, 900, "gemini", org_id));
    REQUIRE_MESSAGE(ok.status == 202, ok.body);
    CHECK(json_of(ok).at("status").as_string() == "COMPLETED");
    auto q = quota_of(app.port(), member, "/org?orgId=" + org_id + "&provider=gemini");
    CHECK(q.at("purchasedTokens").as_int64() == 900);
    CHECK(buy(app.port(), outsider, purchase_body(outsider.id, 1, "gemini", org_id)).status == 403);
    auto missing = buy(app.port(), root, purchase_body(root.id, 1, "gemini", "00000000-0000-4000-8000-000000000001"));
    CHECK(missing.status == 404);
    CHECK(message_of(missing) == "org not found");
}

TEST_CASE("the saga flag off answers 503 and simulate-failure answers 202 FAILED without credit") {
    {
        TestApp app(with_admin({"feature.flags.token-service.saga-purchases=false"}));
        auto u = signup(app.port(), "flag");
        auto r = buy(app.port(), u, purchase_body(u.id, 10));
        CHECK(r.status == 503);
        CHECK(message_of(r) == "token purchase disabled");
        CHECK(json_of(r).at("status").as_int64() == 503);
    }
    {
        TestApp app(with_admin({"token.saga.simulate-failure=true"}));
        auto u = signup(app.port(), "unlucky");
        auto r = buy(app.port(), u, purchase_body(u.id, 10));
        REQUIRE(r.status == 202);
        CHECK(json_of(r).at("status").as_string() == "FAILED");
        auto q = http_call(app.port(), "GET", "/api/v1/tokens/quota?userId=" + u.id + "&provider=openai", "", u.auth());
        CHECK(q.status == 404);  // nothing credited, no pool created
        CHECK(metric(app.port(), "token_purchase_saga_failed_total") == 1);
        // The compensation event travels outbox → relay → event log → consumer and releases the payment.
        double released = 0;
        for (int i = 0; i < 100 * lt::test::event_patience_factor() && released < 1; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            released = metric(app.port(), "token_purchase_saga_compensated_total");
        }
        CHECK(released == 1);
    }
    {
        TestApp app(with_admin({"token.saga.payment.failure-rate=1"}));
        auto u = signup(app.port(), "declined");
        auto r = buy(app.port(), u, purchase_body(u.id, 10));
        REQUIRE(r.status == 202);
        CHECK(json_of(r).at("status").as_string() == "FAILED");
    }
}
