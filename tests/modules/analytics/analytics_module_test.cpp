// The analytics module with real SQLite and the memory event log: idempotent consumption, malformed
// events, redelivery after a store failure, ordering, and non-admin isolation.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>

#include "analytics_harness.hpp"

using namespace lt::analytics::test;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

const std::string kU1 = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kU2 = "aaaaaaaa-0000-4000-8000-000000000002";
const std::string kAdmin = "aaaaaaaa-0000-4000-8000-000000000009";

std::string id(int n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", n);
    return buf;
}

double metric(lt::MetricsRegistry& m, const std::string& series) {
    auto text = m.render();
    auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return 0;
    return std::stod(text.substr(at + series.size() + 2));
}

/// A store that refuses the first `failures` store_usage calls (a database that is down for a while).
class FlakyStore final : public lt::ports::UsageStore {
public:
    FlakyStore(lt::ports::UsageStore& inner, int failures) : inner_(inner), failures_(failures) {}
    lt::Result<void> migrate() override { return inner_.migrate(); }
    lt::Result<std::size_t> store_usage(std::span<const lt::ports::UsageEvent> events) override {
        ++calls_;
        if (failures_.fetch_sub(1) > 0) return lt::fail(lt::Errc::unavailable, "database is down");
        return inner_.store_usage(events);
    }
    lt::Result<std::size_t> store_purchases(std::span<const lt::ports::PurchaseEvent> events) override {
        return inner_.store_purchases(events);
    }
    lt::Result<std::vector<lt::ports::UsageEvent>> recent_usage(const lt::ports::UsageScope& s, std::size_t n) override {
        return inner_.recent_usage(s, n);
    }
    lt::Result<std::vector<lt::ports::UsageTotals>> series(const lt::ports::UsageScope& s,
                                                           std::span<const lt::ports::UsageTime> e) override {
        return inner_.series(s, e);
    }
    lt::Result<std::vector<lt::ports::GroupTotals>> breakdown(const lt::ports::UsageScope& s, lt::ports::TimeRange r,
                                                              lt::ports::UsageDimension d) override {
        return inner_.breakdown(s, r, d);
    }
    lt::Result<lt::ports::PurchaseTotals> purchases(const lt::ports::UsageScope& s, lt::ports::TimeRange r) override {
        return inner_.purchases(s, r);
    }
    lt::Result<std::size_t> purge(lt::ports::UsageTime a, lt::ports::UsageTime b, std::size_t n) override {
        return inner_.purge(a, b, n);
    }
    int calls() const { return calls_; }

private:
    lt::ports::UsageStore& inner_;
    std::atomic<int> failures_;
    std::atomic<int> calls_{0};
};

}  // namespace

TEST_CASE("analytics counts a usage event delivered twice once") {
    Harness h;
    const auto now = h.clock().now();
    const auto value = usage_envelope(id(1), kU1, "openai", 40, true, now - minutes(5));
    h.append("token-usage", id(1), value);
    h.append("token-usage", id(1), value);  // the outbox relay published it again
    h.wait_handled(2);
    CHECK(h.ingestor()->stored() == 1);
    CHECK(h.ingestor()->duplicates() == 1);
    auto r = h.get("/api/v1/analytics/report?provider=openai", principal(kAdmin, {"ADMIN"}));
    REQUIRE(r.status == 200);
    CHECK(r.obj().at("totalEvents") == 1);
    CHECK(r.obj().at("totalTokens") == 40);
    auto u = h.get("/api/v1/analytics/usage?provider=openai", principal(kAdmin, {"ADMIN"}));
    CHECK(u.obj().at("count") == 1);
    CHECK(metric(h.metrics(), "analytics_events_total{type=\"usage\",outcome=\"stored\"}") == 1);
    CHECK(metric(h.metrics(), "analytics_events_total{type=\"usage\",outcome=\"duplicate\"}") == 1);
}

TEST_CASE("analytics skips and counts malformed events and stores the ones after them") {
    Harness h;
    const auto now = h.clock().now();
    h.append("token-usage", "k", "not json at all");
    h.append("token-usage", "k", R"({"eventId":"00000000-0000-4000-8000-000000000001","eventType":"token.usage.v1"})");
    h.append("token-usage", "k", R"({"eventId":"x","eventType":"token.usage.v1","occurredAt":"2026-01-01T00:00:00Z","payload":{}})");
    h.append("token-usage", "k", usage_envelope(id(7), kU1, "qwen", 9, true, now - minutes(1)));
    h.wait_handled(4);
    CHECK(h.ingestor()->malformed() == 3);
    CHECK(h.ingestor()->stored() == 1);
    // Skipped records are committed: a partition never blocks on them.
    CHECK(eventually([&] { return h.log().committed("token-usage", "analytics", 0).value() == 4; }));
    CHECK(metric(h.metrics(), "analytics_events_total{type=\"unknown\",outcome=\"malformed\"}") == 3);
    auto u = h.get("/api/v1/analytics/usage?provider=qwen", principal(kU1));
    REQUIRE(u.status == 200);
    REQUIRE(u.obj().at("count") == 1);
    CHECK(u.obj().at("items").as_array()[0].as_object().at("eventId") == json::value(id(7)));
}

TEST_CASE("analytics delivers a batch again after the store failed and counts it once") {
    FlakyStore* flaky = nullptr;
    Harness h({}, [&](lt::ports::UsageStore& inner) {
        auto s = std::make_unique<FlakyStore>(inner, 2);
        flaky = s.get();
        return s;
    });
    const auto now = h.clock().now();
    for (int i = 1; i <= 3; ++i) h.append("token-usage", id(i), usage_envelope(id(i), kU1, "openai", 10, true, now - seconds(i)));
    h.wait_handled(3);
    CHECK(flaky->calls() >= 3);
    CHECK(h.ingestor()->stored() == 3);
    CHECK(h.ingestor()->duplicates() == 0);
    auto r = h.get("/api/v1/analytics/report?provider=openai", principal(kU1));
    CHECK(r.obj().at("totalEvents") == 3);
    CHECK(r.obj().at("totalTokens") == 30);
    CHECK(eventually([&] { return h.log().committed("token-usage", "analytics", 0).value() == 3; }));
}

TEST_CASE("analytics lists usage newest first by event time, not by arrival") {
    Harness h;
    const auto now = h.clock().now();
    h.append("token-usage", id(1), usage_envelope(id(1), kU1, "gemini", 1, true, now - minutes(3)));
    h.append("token-usage", id(2), usage_envelope(id(2), kU1, "gemini", 2, false, now - minutes(1), "provider_failure"));
    h.append("token-usage", id(3), usage_envelope(id(3), kU1, "gemini", 3, true, now - minutes(2)));
    h.append("token-usage", id(4), usage_envelope(id(4), kU1, "gemini", 4, true, now - minutes(1)));  // same ms as 2
    h.wait_handled(4);
    auto r = h.get("/api/v1/analytics/usage?provider=GEMINI&limit=3", principal(kU1));
    REQUIRE(r.status == 200);
    CHECK(r.obj().at("provider") == "gemini");
    CHECK(r.obj().at("count") == 3);
    const auto& items = r.obj().at("items").as_array();
    REQUIRE(items.size() == 3);
    CHECK(items[0].as_object().at("eventId") == json::value(id(4)));
    CHECK(items[1].as_object().at("eventId") == json::value(id(2)));
    CHECK(items[1].as_object().at("outcome") == "provider_failure");
    CHECK(items[1].as_object().at("allowed") == false);
    CHECK(items[2].as_object().at("eventId") == json::value(id(3)));
    const auto& key = items[0].as_object().at("key").as_object();
    CHECK(key.at("provider") == "gemini");
    CHECK(key.at("timestamp") == json::value(lt::format_rfc3339(now - minutes(1))));
}

TEST_CASE("a non-admin sees only their own events and aggregates, an admin sees everyone's") {
    Harness h;
    const auto now = h.clock().now();
    h.append("token-usage", id(1), usage_envelope(id(1), kU1, "openai", 100, true, now - minutes(10)));
    h.append("token-usage", id(2), usage_envelope(id(2), kU2, "openai", 300, true, now - minutes(10)));
    h.append("token-usage", id(3), usage_envelope(id(3), kU2, "qwen", 50, false, now - minutes(10)));
    h.append("token-purchase-events", id(4),
             purchase_envelope(id(4), "TOKEN_PURCHASE_COMPLETED", id(40), kU2, 1000, now - minutes(9)));
    h.wait_handled(4);
    const auto u1 = principal(kU1);
    const auto admin = principal(kAdmin, {"ADMIN"});

    auto usage = h.get("/api/v1/analytics/usage?provider=openai", u1);
    REQUIRE(usage.obj().at("count") == 1);
    CHECK(usage.obj().at("items").as_array()[0].as_object().at("userId") == json::value(kU1));
    CHECK(h.get("/api/v1/analytics/usage?provider=openai", admin).obj().at("count") == 2);

    auto report = h.get("/api/v1/analytics/report?provider=openai", u1);
    CHECK(report.obj().at("totalTokens") == 100);
    CHECK(report.obj().at("uniqueUsers") == 1);
    CHECK(report.obj().at("topUsers").as_array().size() == 1);
    auto admin_report = h.get("/api/v1/analytics/report?provider=openai", admin);
    CHECK(admin_report.obj().at("totalTokens") == 400);
    CHECK(admin_report.obj().at("uniqueUsers") == 2);
    CHECK(admin_report.obj().at("topUsers").as_array()[0].as_object().at("userId") == json::value(kU2));

    CHECK(h.get("/api/v1/analytics/anomalies?provider=openai", u1).obj().at("currentTokens") == 100);
    CHECK(h.get("/api/v1/analytics/anomalies?provider=openai", admin).obj().at("currentTokens") == 400);

    auto providers = h.get("/api/v1/analytics/providers", u1);
    REQUIRE(providers.obj().at("providers").as_array().size() == 1);
    CHECK(providers.obj().at("providers").as_array()[0].as_object().at("totalTokens") == 100);
    CHECK(h.get("/api/v1/analytics/providers", admin).obj().at("providers").as_array().size() == 2);

    auto trend = h.get("/api/v1/analytics/trends?provider=openai", u1);
    std::int64_t tokens = 0;
    for (const auto& b : trend.obj().at("buckets").as_array()) tokens += b.as_object().at("totalTokens").as_int64();
    CHECK(tokens == 100);

    auto other = h.get("/api/v1/analytics/users/" + kU2, u1);
    CHECK(other.status == 403);
    auto self = h.get("/api/v1/analytics/users/" + kU1, u1);
    REQUIRE(self.status == 200);
    CHECK(self.obj().at("totalTokens") == 100);
    auto seen_by_admin = h.get("/api/v1/analytics/users/" + kU2, admin);
    REQUIRE(seen_by_admin.status == 200);
    CHECK(seen_by_admin.obj().at("totalTokens") == 300);
    CHECK(seen_by_admin.obj().at("deniedTokens") == 50);
    CHECK(seen_by_admin.obj().at("purchases").as_object().at("completed") == 1);
    CHECK(seen_by_admin.obj().at("purchases").as_object().at("purchasedTokens") == 1000);
}

TEST_CASE("analytics answers 401 without a principal and 403 for a principal with neither USER nor ADMIN") {
    Harness h;
    for (const char* path : {"/api/v1/analytics/usage?provider=openai", "/api/v1/analytics/report?provider=openai",
                             "/api/v1/analytics/anomalies?provider=openai", "/api/v1/analytics/providers",
                             "/api/v1/analytics/trends?provider=openai"}) {
        CAPTURE(path);
        CHECK(h.get(path, std::nullopt).status == 401);
        auto r = h.get(path, principal(kU1, {"AUDITOR"}));
        CHECK(r.status == 403);
        CHECK(r.message() == "forbidden");
    }
    CHECK(h.get("/api/v1/analytics/health", std::nullopt).status == 200);
}
