// The analytics module end to end through the gateway: N1–N4, /providers, /users/{userId}, /trends,
// their defaults, clamps and errors (401, 400, 403), isolation between users, and a usage event
// travelling from a real consume through the outbox and the event log into the reports.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <boost/json.hpp>

#include "lt/core/time.hpp"
#include "lt/ports/event_log.hpp"
#include "support/accounts.hpp"
#include "support/envelopes.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::http_call;
using lt::test::HttpResult;
using lt::test::TestApp;
using std::chrono::minutes;

namespace json = boost::json;

namespace {

const std::vector<std::string> kAdmin = lt::test::with_admin();
using lt::test::Account;
using lt::test::admin;
using lt::test::signup;

std::string event_id(int n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", n);
    return buf;
}

/// Appends a usage envelope to the app's event log, as the outbox relay would.
void inject_usage(TestApp& app, int n, const std::string& user, const std::string& provider, std::int64_t tokens,
                  bool allowed, std::chrono::system_clock::time_point when) {
    auto value = lt::test::usage_envelope(event_id(n), user, provider, tokens, allowed, when);
    REQUIRE(app.app().event_log().append(app.setting("token.usage.topic", "token-usage"), event_id(n), std::move(value)));
}

void inject_purchase(TestApp& app, int n, const std::string& event, const std::string& saga, const std::string& user,
                     std::int64_t tokens, std::chrono::system_clock::time_point when) {
    auto value = lt::test::purchase_envelope(event_id(n), event, saga, user, tokens, when, "COMPLETED");
    REQUIRE(app.app().event_log().append(app.setting("token.purchase.topic", "token-purchase-events"), event_id(n),
                                         std::move(value)));
}

json::object body(const HttpResult& r) {
    auto v = json::parse(r.body);
    REQUIRE_MESSAGE(v.is_object(), r.body);
    return v.as_object();
}

std::string message(const HttpResult& r) { return std::string(body(r).at("message").as_string()); }

/// GETs `target` until `done(response)` holds or `patience` passes; returns the last response.
template <class Done>
HttpResult poll_until(std::uint16_t port, const std::string& target, const Account& who, Done done,
                      std::chrono::milliseconds patience = std::chrono::milliseconds(5000)) {
    // Slower polls on Kafka, whose first delivery waits for a group join: the edge limit (120 per
    // minute) must not refuse the polling itself.
    const int factor = lt::test::event_patience_factor();
    const auto deadline = std::chrono::steady_clock::now() + patience * factor;
    for (;;) {
        auto r = http_call(port, "GET", target, "", who.auth());
        if ((r.status == 200 && done(body(r))) || std::chrono::steady_clock::now() > deadline) return r;
        std::this_thread::sleep_for(std::chrono::milliseconds(factor == 1 ? 20 : 150));
    }
}

/// Waits until the admin's report of `provider` over the last day counts `events` events.
void wait_for_events(std::uint16_t port, const Account& root, const std::string& provider, std::int64_t events) {
    auto r = poll_until(port, "/api/v1/analytics/report?provider=" + provider + "&windowMinutes=1440", root,
                        [&](const json::object& o) { return o.at("totalEvents").as_int64() >= events; });
    REQUIRE_MESSAGE(body(r).at("totalEvents").as_int64() == events, r.body);
}

std::int64_t seconds_between(const json::object& o, const char* from, const char* to) {
    auto a = lt::parse_rfc3339(std::string(o.at(from).as_string()));
    auto b = lt::parse_rfc3339(std::string(o.at(to).as_string()));
    REQUIRE((a && b));
    return std::chrono::duration_cast<std::chrono::seconds>(*b - *a).count();
}

}  // namespace

TEST_CASE("analytics health is public and names the service") {
    TestApp app;
    auto r = http_call(app.port(), "GET", "/api/v1/analytics/health");
    REQUIRE(r.status == 200);
    auto o = body(r);
    CHECK(o.at("service") == "analytics-service");
    CHECK(o.at("status") == "ok");
    CHECK(lt::parse_rfc3339(std::string(o.at("timestamp").as_string())).has_value());
}

TEST_CASE("analytics queries without credentials are 401 with the JSON error body") {
    TestApp app;
    for (const char* path : {"/api/v1/analytics/usage?provider=openai", "/api/v1/analytics/report?provider=openai",
                             "/api/v1/analytics/anomalies?provider=openai", "/api/v1/analytics/providers",
                             "/api/v1/analytics/trends?provider=openai",
                             "/api/v1/analytics/users/aaaaaaaa-0000-4000-8000-000000000001",
                             // Malformed input still needs credentials first.
                             "/api/v1/analytics/usage?limit=abc"}) {
        CAPTURE(path);
        auto r = http_call(app.port(), "GET", path);
        CHECK(r.status == 401);
        auto o = body(r);
        CHECK(o.at("status") == 401);
        for (const char* field : {"message", "timestamp", "error", "path"}) CHECK(o.contains(field));
    }
}

TEST_CASE("analytics refuses malformed parameters with 400, an unknown provider after them") {
    TestApp app(kAdmin);
    auto u = signup(app.port(), "params");
    auto get = [&](const std::string& target) { return http_call(app.port(), "GET", target, "", u.auth()); };
    const std::string base = "/api/v1/analytics/";
    struct Case {
        std::string target;
        std::string message;
    };
    const std::vector<Case> cases{
        {"usage", "provider is required"},
        {"usage?provider=%20%20", "provider is required"},
        {"usage?provider=openai&limit=abc", "limit must be an integer"},
        {"usage?provider=openai&limit=2.5", "limit must be an integer"},
        {"usage?provider=nope&limit=abc", "limit must be an integer"},  // malformed input before the provider
        {"usage?provider=nope", "unknown provider"},
        {"report", "provider is required"},
        {"report?provider=openai&windowMinutes=ten", "windowMinutes must be an integer"},
        {"report?provider=openai&limit=1e3", "limit must be an integer"},
        {"report?provider=nope", "unknown provider"},
        {"anomalies?provider=openai&baselineWindows=x", "baselineWindows must be an integer"},
        {"anomalies?provider=openai&thresholdMultiplier=high", "thresholdMultiplier must be a number"},
        {"anomalies?provider=openai&windowMinutes=99999999999999999999", "windowMinutes must be an integer"},
        {"anomalies?provider=nope", "unknown provider"},
        {"providers?windowMinutes=-", "windowMinutes must be an integer"},
        {"trends?provider=openai&bucketMinutes=5m", "bucketMinutes must be an integer"},
        {"trends?provider=nope", "unknown provider"},
        {"trends", "provider is required"},
        {"users/not-a-uuid", "invalid userId"},
        {"users/" + u.id + "?windowMinutes=x", "windowMinutes must be an integer"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.target);
        auto r = get(base + c.target);
        CHECK(r.status == 400);
        CHECK(message(r) == c.message);
        CHECK(body(r).at("path") == json::value(base + c.target.substr(0, c.target.find('?'))));
    }
    // Provider names are case-insensitive.
    auto mixed = get(base + "usage?provider=OpenAI");
    REQUIRE(mixed.status == 200);
    CHECK(body(mixed).at("provider") == "openai");
    // A bad userId is 400 even when it is someone else's (400 before 403).
    CHECK(get(base + "users/xyz").status == 400);
}

TEST_CASE("usage lists newest first with the default limit, clamps the limit and shows a user only their own events") {
    TestApp app(kAdmin);
    auto root = admin(app.port());
    auto u1 = signup(app.port(), "usage-one");
    auto u2 = signup(app.port(), "usage-two");
    const auto now = std::chrono::system_clock::now();
    for (int i = 1; i <= 205; ++i) inject_usage(app, i, u1.id, "openai", i, true, now - std::chrono::seconds(i));
    inject_usage(app, 1000, u2.id, "openai", 7, false, now - std::chrono::seconds(1));
    wait_for_events(app.port(), root, "openai", 206);

    auto r = http_call(app.port(), "GET", "/api/v1/analytics/usage?provider=openai", "", u1.auth());
    REQUIRE(r.status == 200);
    auto o = body(r);
    CHECK(o.at("provider") == "openai");
    CHECK(o.at("count") == 20);
    const auto& items = o.at("items").as_array();
    REQUIRE(items.size() == 20);
    const auto& first = items[0].as_object();
    CHECK(first.at("userId") == json::value(u1.id));  // u2's newer event is not visible to u1
    CHECK(first.at("tokens") == 1);
    CHECK(first.at("allowed") == true);
    CHECK(first.at("outcome") == "allowed");
    CHECK(first.at("eventId") == json::value(event_id(1)));
    CHECK(first.at("key").as_object().at("provider") == "openai");
    CHECK(first.at("key").as_object().at("timestamp") == json::value(lt::format_rfc3339(now - std::chrono::seconds(1))));
    CHECK(items[19].as_object().at("tokens") == 20);

    auto count = [&](const std::string& query, const Account& who) {
        auto res = http_call(app.port(), "GET", "/api/v1/analytics/usage?provider=openai" + query, "", who.auth());
        REQUIRE(res.status == 200);
        return body(res).at("count").as_int64();
    };
    CHECK(count("&limit=0", u1) == 1);
    CHECK(count("&limit=-3", u1) == 1);
    CHECK(count("&limit=7", u1) == 7);
    CHECK(count("&limit=1000", u1) == 200);
    CHECK(count("&limit=1000", u2) == 1);
    CHECK(count("", root) == 20);
    auto admin_items = body(http_call(app.port(), "GET", "/api/v1/analytics/usage?provider=openai&limit=1", "", root.auth()));
    CHECK(admin_items.at("items").as_array()[0].as_object().at("userId") == json::value(u2.id));
    // Usage of another provider is its own list.
    CHECK(body(http_call(app.port(), "GET", "/api/v1/analytics/usage?provider=qwen", "", root.auth())).at("count") == 0);
}

TEST_CASE("report totals count allowed tokens, cover the whole window and apply the defaults and clamps") {
    TestApp app(kAdmin);
    auto root = admin(app.port());
    auto u1 = signup(app.port(), "report-one");
    auto u2 = signup(app.port(), "report-two");
    const auto now = std::chrono::system_clock::now();
    inject_usage(app, 1, u1.id, "qwen", 100, true, now - minutes(5));
    inject_usage(app, 2, u1.id, "qwen", 40, false, now - minutes(6));
    inject_usage(app, 3, u2.id, "qwen", 300, true, now - minutes(7));
    inject_usage(app, 4, u2.id, "qwen", 20, true, now - minutes(8));
    inject_usage(app, 5, u2.id, "qwen", 5000, true, now - minutes(90));  // outside the default hour
    wait_for_events(app.port(), root, "qwen", 5);

    auto r = http_call(app.port(), "GET", "/api/v1/analytics/report?provider=qwen", "", root.auth());
    REQUIRE(r.status == 200);
    auto o = body(r);
    CHECK(o.at("provider") == "qwen");
    CHECK(seconds_between(o, "windowStart", "windowEnd") == 3600);
    CHECK(o.at("totalEvents") == 4);
    CHECK(o.at("allowedEvents") == 3);
    CHECK(o.at("deniedEvents") == 1);
    CHECK(o.at("totalTokens") == 420);
    CHECK(o.at("deniedTokens") == 40);
    CHECK(o.at("averageTokensPerEvent").to_number<double>() == doctest::Approx(140.0));
    CHECK(o.at("uniqueUsers") == 2);
    CHECK(o.at("sampleLimit") == 5000);
    const auto& top = o.at("topUsers").as_array();
    REQUIRE(top.size() == 2);
    CHECK(top[0].as_object().at("userId") == json::value(u2.id));
    CHECK(top[0].as_object().at("totalTokens") == 320);
    CHECK(top[0].as_object().at("events") == 2);
    CHECK(top[1].as_object().at("userId") == json::value(u1.id));
    CHECK(top[1].as_object().at("totalTokens") == 100);
    CHECK(top[1].as_object().at("events") == 2);

    auto wide = body(http_call(app.port(), "GET", "/api/v1/analytics/report?provider=qwen&windowMinutes=99999&limit=10", "",
                               root.auth()));
    CHECK(seconds_between(wide, "windowStart", "windowEnd") == 1440 * 60);
    CHECK(wide.at("totalTokens") == 5420);
    CHECK(wide.at("sampleLimit") == 10);
    auto zero = body(http_call(app.port(), "GET", "/api/v1/analytics/report?provider=qwen&windowMinutes=0&limit=0", "",
                               root.auth()));
    CHECK(seconds_between(zero, "windowStart", "windowEnd") == 3600);
    CHECK(zero.at("sampleLimit") == 5000);

    // A user's report covers their own events only.
    auto mine = body(http_call(app.port(), "GET", "/api/v1/analytics/report?provider=qwen", "", u1.auth()));
    CHECK(mine.at("totalEvents") == 2);
    CHECK(mine.at("totalTokens") == 100);
    CHECK(mine.at("uniqueUsers") == 1);
    CHECK(mine.at("averageTokensPerEvent").to_number<double>() == doctest::Approx(100.0));

    auto metrics = http_call(app.port(), "GET", "/actuator/prometheus").body;
    CHECK(metrics.find("analytics_report_query_total{provider=\"qwen\",outcome=\"success\"} ") != std::string::npos);
    CHECK(metrics.find("analytics_events_total{type=\"usage\",outcome=\"stored\"} 5\n") != std::string::npos);
}

TEST_CASE("anomalies: current 300 against baselines 100 and 100 gives ratio 3.0, an empty baseline gives null") {
    TestApp app(kAdmin);
    auto root = admin(app.port());
    auto u = signup(app.port(), "spender");
    const auto now = std::chrono::system_clock::now();
    inject_usage(app, 1, u.id, "gemini", 300, true, now - minutes(10));
    inject_usage(app, 2, u.id, "gemini", 100, true, now - minutes(70));
    inject_usage(app, 3, u.id, "gemini", 100, true, now - minutes(130));
    inject_usage(app, 4, u.id, "gemini", 900, false, now - minutes(11));  // denied: not counted
    inject_usage(app, 5, u.id, "openai", 50, true, now - minutes(3));
    wait_for_events(app.port(), root, "gemini", 4);
    wait_for_events(app.port(), root, "openai", 1);

    auto r = http_call(app.port(), "GET",
                       "/api/v1/analytics/anomalies?provider=gemini&windowMinutes=60&baselineWindows=2", "", root.auth());
    REQUIRE(r.status == 200);
    auto o = body(r);
    CHECK(o.at("provider") == "gemini");
    CHECK(seconds_between(o, "windowStart", "windowEnd") == 3600);
    CHECK(o.at("baselineWindows") == 2);
    CHECK(o.at("currentTokens") == 300);
    CHECK(o.at("baselineAverageTokens").to_number<double>() == doctest::Approx(100.0));
    CHECK(o.at("ratio").to_number<double>() == doctest::Approx(3.0));
    CHECK(o.at("thresholdMultiplier").to_number<double>() == doctest::Approx(2.0));
    CHECK(o.at("anomaly") == true);
    CHECK(o.at("sampleLimit") == 5000);

    // The same user sees the same figures (their own events).
    auto own = body(http_call(app.port(), "GET",
                              "/api/v1/analytics/anomalies?provider=gemini&windowMinutes=60&baselineWindows=2&"
                              "thresholdMultiplier=3.5",
                              "", u.auth()));
    CHECK(own.at("currentTokens") == 300);
    CHECK(own.at("thresholdMultiplier").to_number<double>() == doctest::Approx(3.5));
    CHECK(own.at("anomaly") == false);

    // Nothing in the baselines: the ratio is JSON null (never Infinity) and there is no anomaly.
    auto none = http_call(app.port(), "GET", "/api/v1/analytics/anomalies?provider=openai", "", root.auth());
    REQUIRE(none.status == 200);
    CHECK(none.body.find("Infinity") == std::string::npos);
    auto n = body(none);
    CHECK(n.at("currentTokens") == 50);
    CHECK(n.at("baselineAverageTokens").to_number<double>() == 0.0);
    CHECK(n.at("ratio").is_null());
    CHECK(n.at("anomaly") == false);
    // Defaults and clamps.
    CHECK(n.at("baselineWindows") == 4);
    auto clamped = body(http_call(app.port(), "GET",
                                  "/api/v1/analytics/anomalies?provider=openai&windowMinutes=5000&baselineWindows=99&"
                                  "thresholdMultiplier=0.5&limit=9000",
                                  "", root.auth()));
    CHECK(seconds_between(clamped, "windowStart", "windowEnd") == 1440 * 60);
    CHECK(clamped.at("baselineWindows") == 24);
    CHECK(clamped.at("thresholdMultiplier").to_number<double>() == doctest::Approx(1.0));
    CHECK(clamped.at("sampleLimit") == 5000);
}

TEST_CASE("providers, users and trends summarize the window, each user seeing only their own figures") {
    TestApp app(kAdmin);
    auto root = admin(app.port());
    auto u1 = signup(app.port(), "summary-one");
    auto u2 = signup(app.port(), "summary-two");
    const auto now = std::chrono::system_clock::now();
    inject_usage(app, 1, u1.id, "openai", 10, true, now - minutes(2));
    inject_usage(app, 2, u1.id, "qwen", 20, false, now - minutes(20));
    inject_usage(app, 3, u2.id, "openai", 30, true, now - minutes(40));
    inject_purchase(app, 4, "TOKEN_PURCHASE_STARTED", event_id(100), u1.id, 500, now - minutes(4));
    inject_purchase(app, 5, "TOKEN_PURCHASE_COMPLETED", event_id(100), u1.id, 500, now - minutes(3));
    inject_purchase(app, 6, "TOKEN_PURCHASE_STARTED", event_id(101), u1.id, 70, now - minutes(2));
    inject_purchase(app, 7, "TOKEN_PURCHASE_FAILED", event_id(101), u1.id, 70, now - minutes(1));
    wait_for_events(app.port(), root, "openai", 2);
    wait_for_events(app.port(), root, "qwen", 1);

    auto all = body(http_call(app.port(), "GET", "/api/v1/analytics/providers", "", root.auth()));
    CHECK(seconds_between(all, "windowStart", "windowEnd") == 3600);
    const auto& rows = all.at("providers").as_array();
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].as_object().at("provider") == "openai");
    CHECK(rows[0].as_object().at("totalEvents") == 2);
    CHECK(rows[0].as_object().at("totalTokens") == 40);
    CHECK(rows[1].as_object().at("provider") == "qwen");
    CHECK(rows[1].as_object().at("deniedEvents") == 1);
    CHECK(rows[1].as_object().at("deniedTokens") == 20);
    auto mine = body(http_call(app.port(), "GET", "/api/v1/analytics/providers?windowMinutes=10", "", u1.auth()));
    REQUIRE(mine.at("providers").as_array().size() == 1);  // qwen is 20 minutes old
    CHECK(mine.at("providers").as_array()[0].as_object().at("totalTokens") == 10);

    // A user's summary waits for the purchase events too.
    auto summary = poll_until(app.port(), "/api/v1/analytics/users/" + u1.id, u1, [](const json::object& o) {
        return o.at("purchases").as_object().at("failed").as_int64() == 1;
    });
    REQUIRE(summary.status == 200);
    auto s = body(summary);
    CHECK(s.at("userId") == json::value(u1.id));
    CHECK(s.at("totalEvents") == 2);
    CHECK(s.at("totalTokens") == 10);
    CHECK(s.at("deniedTokens") == 20);
    CHECK(s.at("providers").as_array().size() == 2);
    const auto& p = s.at("purchases").as_object();
    CHECK(p.at("started") == 2);
    CHECK(p.at("completed") == 1);
    CHECK(p.at("failed") == 1);
    CHECK(p.at("purchasedTokens") == 500);
    // Upper-case ids name the same user.
    std::string upper = u1.id;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(http_call(app.port(), "GET", "/api/v1/analytics/users/" + upper, "", u1.auth()).status == 200);
    auto forbidden = http_call(app.port(), "GET", "/api/v1/analytics/users/" + u1.id, "", u2.auth());
    CHECK(forbidden.status == 403);
    CHECK(message(forbidden) == "forbidden");
    auto by_admin = body(http_call(app.port(), "GET", "/api/v1/analytics/users/" + u2.id, "", root.auth()));
    CHECK(by_admin.at("totalTokens") == 30);
    CHECK(by_admin.at("purchases").as_object().at("completed") == 0);

    auto trend = http_call(app.port(), "GET", "/api/v1/analytics/trends?provider=openai&windowMinutes=60&bucketMinutes=15",
                           "", root.auth());
    REQUIRE(trend.status == 200);
    auto t = body(trend);
    CHECK(t.at("provider") == "openai");
    CHECK(t.at("bucketMinutes") == 15);
    const auto& buckets = t.at("buckets").as_array();
    REQUIRE(buckets.size() == 4);
    CHECK(buckets[0].as_object().at("start") == t.at("windowStart"));
    CHECK(buckets[3].as_object().at("end") == t.at("windowEnd"));
    CHECK(buckets[0].as_object().at("totalTokens") == 0);
    CHECK(buckets[1].as_object().at("totalTokens") == 30);  // 40 minutes ago
    CHECK(buckets[2].as_object().at("totalTokens") == 0);
    CHECK(buckets[3].as_object().at("totalTokens") == 10);  // 2 minutes ago
    auto own_trend = body(http_call(app.port(), "GET", "/api/v1/analytics/trends?provider=openai", "", u2.auth()));
    CHECK(own_trend.at("bucketMinutes") == 5);
    CHECK(own_trend.at("buckets").as_array().size() == 12);
    std::int64_t tokens = 0;
    for (const auto& b : own_trend.at("buckets").as_array()) tokens += b.as_object().at("totalTokens").as_int64();
    CHECK(tokens == 30);
    auto bounded = body(http_call(app.port(), "GET", "/api/v1/analytics/trends?provider=openai&windowMinutes=1440&bucketMinutes=1",
                                  "", root.auth()));
    CHECK(bounded.at("buckets").as_array().size() == 288);
    CHECK(bounded.at("bucketMinutes") == 5);
}

TEST_CASE("a usage event produced by a real consume appears in usage and report within 2 seconds") {
    TestApp app({"auth.bootstrap-admin.username=root", "auth.bootstrap-admin.password=root-password-1",
                 "token.quota.default-allowance.openai=1000"});
    auto u = signup(app.port(), "consumer");
    auto consumed = http_call(app.port(), "POST", "/api/v1/tokens/consume",
                              json::serialize(json::object{
                                  {"userId", u.id}, {"provider", "openai"}, {"tokens", 7}, {"prompt", "hello"}}),
                              u.auth());
    REQUIRE_MESSAGE(consumed.status == 200, consumed.body);
    const auto start = std::chrono::steady_clock::now();
    auto usage = poll_until(
        app.port(), "/api/v1/analytics/usage?provider=openai", u,
        [](const json::object& o) { return o.at("count").as_int64() >= 1; }, std::chrono::milliseconds(2000));
    const auto waited = std::chrono::steady_clock::now() - start;
    auto o = body(usage);
    REQUIRE_MESSAGE(o.at("count") == 1, "no usage event after 2 s: " << usage.body);
    CHECK(waited < std::chrono::seconds(2) * lt::test::event_patience_factor());
    const auto& item = o.at("items").as_array()[0].as_object();
    CHECK(item.at("userId") == json::value(u.id));
    CHECK(item.at("tokens") == 7);
    CHECK(item.at("allowed") == true);
    CHECK(item.at("outcome") == "allowed");
    CHECK(lt::is_uuid(std::string(item.at("eventId").as_string())));
    auto report = body(http_call(app.port(), "GET", "/api/v1/analytics/report?provider=openai", "", u.auth()));
    CHECK(report.at("totalEvents") == 1);
    CHECK(report.at("totalTokens") == 7);
}
