// AnalyticsService over SqlUsageStore (SQLite in memory) and a FakeClock: the report, anomaly and
// trend arithmetic of CONTRACT.md 25-26, windows, defaults and clamps.
#include <doctest/doctest.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "analytics_service.hpp"
#include "lt/adapters/sql_usage_store.hpp"
#include "lt/adapters/sqlite_database.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/clock.hpp"

using lt::analytics::AnalyticsService;
using lt::analytics::AnomalyQuery;
using lt::analytics::QueryLimits;
using lt::analytics::ReportQuery;
using lt::analytics::TrendQuery;
using lt::analytics::UsageQuery;
using lt::analytics::Viewer;
using lt::ports::UsageEvent;
using std::chrono::milliseconds;
using std::chrono::minutes;

namespace {

struct Fixture {
    lt::BlockingPool pool{1};
    lt::FakeClock clock{lt::FakeClock().now() + std::chrono::milliseconds(12'345)};  // not on a minute
    std::unique_ptr<lt::adapters::SqliteDatabase> db;
    std::unique_ptr<lt::adapters::SqlUsageStore> store;
    QueryLimits limits;
    int next_id = 1;

    Fixture() {
        db = std::move(*lt::adapters::SqliteDatabase::open(":memory:", pool));
        store = std::make_unique<lt::adapters::SqlUsageStore>(*db);
        REQUIRE(store->migrate());
    }

    AnalyticsService service() { return AnalyticsService(*store, clock, limits); }

    void add(const std::string& user, std::int64_t tokens, bool allowed, lt::ports::UsageTime when,
             const std::string& provider = "openai") {
        UsageEvent e;
        char id[40];
        std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", next_id++);
        e.event_id = id;
        e.user_id = user;
        e.provider = provider;
        e.tokens = tokens;
        e.allowed = allowed;
        e.outcome = allowed ? "allowed" : "rate_limited";
        e.occurred_at = when;
        auto r = store->store_usage(std::vector<UsageEvent>{e});
        REQUIRE(r);
        REQUIRE(*r == 1);
    }
    lt::ports::UsageTime now() const { return std::chrono::floor<milliseconds>(clock.now()); }
};

}  // namespace

TEST_CASE("report counts allowed tokens only, averages over allowed events and ranks top users by allowed tokens") {
    Fixture f;
    f.limits.max_top_users = 2;
    const auto t = f.now() - minutes(5);
    f.add("u1", 100, true, t);
    f.add("u1", 500, false, t);
    f.add("u2", 100, true, t);
    f.add("u3", 50, false, t);
    f.add("u4", 30, true, t);
    f.add("u4", 30, true, t);
    f.add("u5", 999, true, t, "qwen");  // another provider
    auto r = f.service().report(ReportQuery{"openai", Viewer{}, std::nullopt, std::nullopt});
    REQUIRE(r);
    CHECK(r->totals.events() == 6);
    CHECK(r->totals.allowed_events == 4);
    CHECK(r->totals.denied_events == 2);
    CHECK(r->totals.allowed_tokens == 260);
    CHECK(r->totals.denied_tokens == 550);
    CHECK(r->average_tokens_per_event() == doctest::Approx(65.0));
    CHECK(r->unique_users == 4);
    CHECK(r->sample_limit == 5000);
    REQUIRE(r->top_users.size() == 2);
    // u1 and u2 tie at 100 allowed tokens: by user id. u1's denied event counts in `events` only.
    CHECK(r->top_users[0].user_id == "u1");
    CHECK(r->top_users[0].total_tokens == 100);
    CHECK(r->top_users[0].events == 2);
    CHECK(r->top_users[1].user_id == "u2");
    CHECK(r->window.end == f.now());
    CHECK(r->window.start == f.now() - minutes(60));
}

TEST_CASE("a report with only denied events has an average of zero and no top users") {
    Fixture f;
    f.add("u1", 70, false, f.now() - minutes(1));
    auto r = f.service().report(ReportQuery{"openai", Viewer{}, std::nullopt, std::nullopt});
    REQUIRE(r);
    CHECK(r->average_tokens_per_event() == 0.0);
    CHECK(r->top_users.empty());
    CHECK(r->unique_users == 1);
    CHECK(r->totals.denied_tokens == 70);
}

TEST_CASE("the report window is [now - W, now], both ends included") {
    Fixture f;
    const auto now = f.now();
    f.add("u1", 1, true, now - minutes(30));
    f.add("u1", 10, true, now - minutes(30) - milliseconds(1));
    f.add("u1", 100, true, now);
    f.add("u1", 1000, true, now + milliseconds(1));
    auto r = f.service().report(ReportQuery{"openai", Viewer{}, 30, std::nullopt});
    REQUIRE(r);
    CHECK(r->totals.allowed_tokens == 101);
}

TEST_CASE("the report covers every event of the window however many there are") {
    Fixture f;
    std::vector<UsageEvent> events;
    for (int i = 0; i < 6000; ++i) {
        UsageEvent e;
        char id[40];
        std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i + 1);
        e.event_id = id;
        static const char* const kUsers[] = {"u0", "u1", "u2", "u3", "u4", "u5", "u6"};
        e.user_id = kUsers[i % 7];
        e.provider = "openai";
        e.tokens = 2;
        e.allowed = true;
        e.outcome = "allowed";
        e.occurred_at = f.now() - milliseconds(i * 500);
        events.push_back(e);
    }
    REQUIRE(f.store->store_usage(events));
    auto r = f.service().report(ReportQuery{"openai", Viewer{}, 60, 10});
    REQUIRE(r);
    CHECK(r->sample_limit == 10);
    CHECK(r->totals.events() == 6000);  // 6000 events over 50 minutes, all inside the hour
    CHECK(r->totals.allowed_tokens == 12000);
}

TEST_CASE("report defaults and clamps window and limit") {
    Fixture f;
    auto svc = f.service();
    auto big = svc.report(ReportQuery{"openai", Viewer{}, 999999, 999999});
    REQUIRE(big);
    CHECK(big->window.end - big->window.start == minutes(1440));
    CHECK(big->sample_limit == 5000);
    auto zero = svc.report(ReportQuery{"openai", Viewer{}, 0, -1});
    REQUIRE(zero);
    CHECK(zero->window.end - zero->window.start == minutes(60));
    CHECK(zero->sample_limit == 5000);
}

TEST_CASE("anomaly: current 300 against baselines 100 and 100 gives ratio 3 and an anomaly") {
    Fixture f;
    const auto now = f.now();
    f.add("u1", 300, true, now - minutes(10));
    f.add("u1", 999, false, now - minutes(10));  // denied tokens never count
    f.add("u2", 100, true, now - minutes(70));
    f.add("u2", 100, true, now - minutes(130));
    f.add("u2", 5000, true, now - minutes(190));  // outside B = 2
    auto a = f.service().anomalies(AnomalyQuery{"openai", Viewer{}, 60, 2, std::nullopt, std::nullopt});
    REQUIRE(a);
    CHECK(a->baseline_windows == 2);
    CHECK(a->current_tokens == 300);
    CHECK(a->baseline_average == doctest::Approx(100.0));
    REQUIRE(a->ratio.has_value());
    CHECK(*a->ratio == doctest::Approx(3.0));
    CHECK(a->threshold == 2.0);
    CHECK(a->anomaly);
    auto high = f.service().anomalies(AnomalyQuery{"openai", Viewer{}, 60, 2, 3.5, std::nullopt});
    REQUIRE(high);
    CHECK_FALSE(high->anomaly);
}

TEST_CASE("anomaly ratio is null when the baseline average is zero, and no anomaly then") {
    Fixture f;
    f.add("u1", 500, true, f.now() - minutes(1));
    auto a = f.service().anomalies(AnomalyQuery{"openai", Viewer{}, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
    REQUIRE(a);
    CHECK(a->current_tokens == 500);
    CHECK(a->baseline_average == 0.0);
    CHECK_FALSE(a->ratio.has_value());
    CHECK_FALSE(a->anomaly);
    auto empty = f.service().anomalies(AnomalyQuery{"qwen", Viewer{}, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
    REQUIRE(empty);
    CHECK_FALSE(empty->ratio.has_value());
}

TEST_CASE("anomaly windows are half-open: an event on a boundary counts in exactly one window") {
    Fixture f;
    const auto now = f.now();
    f.add("u1", 7, true, now - minutes(60));    // start of the current window (inclusive)
    f.add("u1", 40, true, now - minutes(120));  // start of baseline 1
    f.add("u1", 2, true, now - minutes(180));   // start of baseline 2 = end of baseline 1 (exclusive)
    auto a = f.service().anomalies(AnomalyQuery{"openai", Viewer{}, 60, 1, 1.0, std::nullopt});
    REQUIRE(a);
    CHECK(a->current_tokens == 7);
    CHECK(a->baseline_average == doctest::Approx(40.0));
    auto two = f.service().anomalies(AnomalyQuery{"openai", Viewer{}, 60, 2, 1.0, std::nullopt});
    REQUIRE(two);
    CHECK(two->baseline_average == doctest::Approx(21.0));
}

TEST_CASE("anomaly defaults and clamps the baseline count and the threshold") {
    Fixture f;
    auto svc = f.service();
    auto d = svc.anomalies(AnomalyQuery{"openai", Viewer{}, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
    REQUIRE(d);
    CHECK(d->baseline_windows == 4);
    CHECK(d->threshold == 2.0);
    CHECK(d->sample_limit == 5000);
    CHECK(d->window.end - d->window.start == minutes(60));
    auto c = svc.anomalies(AnomalyQuery{"openai", Viewer{}, 5000, 100, 0.2, 7});
    REQUIRE(c);
    CHECK(c->baseline_windows == 24);
    CHECK(c->threshold == 1.0);
    CHECK(c->sample_limit == 7);
    CHECK(c->window.end - c->window.start == minutes(1440));
}

TEST_CASE("trends give buckets oldest first, empty ones included, and bound their number") {
    Fixture f;
    const auto now = f.now();
    f.add("u1", 5, true, now - minutes(20));  // bucket [now-30, now-15)
    f.add("u1", 6, false, now);               // the last bucket includes now
    auto t = f.service().trends(TrendQuery{"openai", Viewer{}, 60, 15});
    REQUIRE(t);
    CHECK(t->bucket_minutes == 15);
    REQUIRE(t->buckets.size() == 4);
    CHECK(t->buckets[0].start == now - minutes(60));
    CHECK(t->buckets[0].end == now - minutes(45));
    CHECK(t->buckets[0].totals.events() == 0);
    CHECK(t->buckets[1].totals.events() == 0);
    CHECK(t->buckets[2].totals.allowed_tokens == 5);
    CHECK(t->buckets[3].totals.denied_tokens == 6);
    CHECK(t->buckets[3].end == now);

    auto fine = f.service().trends(TrendQuery{"openai", Viewer{}, 1440, 1});
    REQUIRE(fine);
    CHECK(fine->bucket_minutes == 5);  // 1440 buckets of 1 minute exceed max-buckets (288)
    CHECK(fine->buckets.size() == 288);

    auto uneven = f.service().trends(TrendQuery{"openai", Viewer{}, 50, 15});
    REQUIRE(uneven);
    CHECK(uneven->buckets.size() == 4);  // whole buckets: the window grows to 60 minutes
    CHECK(uneven->window.start == now - minutes(60));

    auto defaults = f.service().trends(TrendQuery{"openai", Viewer{}, std::nullopt, std::nullopt});
    REQUIRE(defaults);
    CHECK(defaults->bucket_minutes == 5);
    CHECK(defaults->buckets.size() == 12);
    auto wide = f.service().trends(TrendQuery{"openai", Viewer{}, 30, 500});
    REQUIRE(wide);
    CHECK(wide->bucket_minutes == 30);
    CHECK(wide->buckets.size() == 1);
}

TEST_CASE("usage limit defaults to 20 and is clamped to 1..200") {
    Fixture f;
    for (int i = 0; i < 250; ++i) f.add("u1", 1, true, f.now() - milliseconds(i));
    auto svc = f.service();
    CHECK(svc.usage(UsageQuery{"openai", Viewer{}, std::nullopt})->size() == 20);
    CHECK(svc.usage(UsageQuery{"openai", Viewer{}, 0})->size() == 1);
    CHECK(svc.usage(UsageQuery{"openai", Viewer{}, -4})->size() == 1);
    CHECK(svc.usage(UsageQuery{"openai", Viewer{}, 1000})->size() == 200);
    CHECK(svc.usage(UsageQuery{"openai", Viewer{}, 57})->size() == 57);
}
