// UsageStore port contract: every case runs against every backend of UsageContractBackends.

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "contract/usage_store_contract.hpp"

using lt::ports::GroupTotals;
using lt::ports::PurchaseEvent;
using lt::ports::PurchaseTotals;
using lt::ports::TimeRange;
using lt::ports::UsageDimension;
using lt::ports::UsageEvent;
using lt::ports::UsageScope;
using lt::ports::UsageTime;
using lt::ports::UsageTotals;
using namespace lt::test;
using std::chrono::milliseconds;
using std::chrono::minutes;

namespace {

/// Brute force: the totals of `events` inside [from, to) matching `scope`.
UsageTotals expected(const std::vector<UsageEvent>& events, const UsageScope& scope, UsageTime from, UsageTime to) {
    UsageTotals t;
    for (const auto& e : events) {
        if (scope.provider && e.provider != *scope.provider) continue;
        if (scope.user_id && e.user_id != *scope.user_id) continue;
        if (e.occurred_at < from || e.occurred_at >= to) continue;
        if (e.allowed) {
            ++t.allowed_events;
            t.allowed_tokens += e.tokens;
        } else {
            ++t.denied_events;
            t.denied_tokens += e.tokens;
        }
    }
    return t;
}

UsageTotals must_totals(lt::ports::UsageStore& store, const UsageScope& scope, UsageTime from, UsageTime to) {
    auto r = store.totals(scope, TimeRange{from, to});
    REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message));
    return *r;
}

std::vector<UsageEvent> must_recent(lt::ports::UsageStore& store, const UsageScope& scope, std::size_t limit) {
    auto r = store.recent_usage(scope, limit);
    REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message));
    return *r;
}

PurchaseEvent purchase(std::int64_t n, std::string event, std::string saga, std::string user, std::int64_t tokens,
                       UsageTime when) {
    PurchaseEvent p;
    char id[40];
    std::snprintf(id, sizeof id, "00000000-0000-4000-9000-%012lld", static_cast<long long>(n));
    p.event_id = id;
    p.event = std::move(event);
    p.saga_id = std::move(saga);
    p.user_id = std::move(user);
    p.provider = "openai";
    p.tokens = tokens;
    p.status = "PENDING";
    p.occurred_at = when;
    return p;
}

}  // namespace

TEST_CASE_TEMPLATE_DEFINE("a usage event delivered again is stored and counted once", B, usage_idempotent_case) {
    B backend;
    if (skipped(backend)) return;
    auto& store = backend.store();
    const auto e = usage(1, "u1", "openai", 10, true, at_ms(1500));
    CHECK(must_store(store, {e}) == 1);
    CHECK(must_store(store, {e}) == 0);
    // A repeat inside one batch, next to a new event.
    const auto f = usage(2, "u1", "openai", 7, false, at_ms(2500));
    CHECK(must_store(store, {f, e, f}) == 1);
    CHECK(must_recent(store, {"openai", std::nullopt}, 10).size() == 2);
    const UsageTotals want{1, 1, 10, 7};
    // Within one minute (raw events) and over whole minutes (rollups): both counted once.
    CHECK(must_totals(store, {"openai", std::nullopt}, at_ms(0), at_ms(3000)) == want);
    CHECK(must_totals(store, {"openai", std::nullopt}, at_ms(0), at_ms(60'000)) == want);
    CHECK(must_totals(store, {"openai", "u1"}, at_ms(0), at_ms(60'000)) == want);
}
TEST_CASE_TEMPLATE_APPLY(usage_idempotent_case, UsageContractBackends);

TEST_CASE_TEMPLATE_DEFINE("two usage events of the same provider in the same millisecond are both kept", B,
                          same_millisecond_case) {
    B backend;
    if (skipped(backend)) return;
    auto& store = backend.store();
    const auto when = at_ms(61'234);
    CHECK(must_store(store, {usage(1, "u1", "qwen", 3, true, when)}) == 1);
    CHECK(must_store(store, {usage(2, "u2", "qwen", 4, true, when)}) == 1);
    auto recent = must_recent(store, {"qwen", std::nullopt}, 10);
    REQUIRE(recent.size() == 2);
    CHECK(recent[0].occurred_at == when);
    CHECK(recent[1].occurred_at == when);
    CHECK(must_totals(store, {"qwen", std::nullopt}, kT0, at_ms(180'000)) == UsageTotals{2, 0, 7, 0});
}
TEST_CASE_TEMPLATE_APPLY(same_millisecond_case, UsageContractBackends);

TEST_CASE_TEMPLATE_DEFINE("recent usage is newest first, scoped, limited, and keeps every field", B, recent_case) {
    B backend;
    if (skipped(backend)) return;
    auto& store = backend.store();
    auto a = usage(1, "u1", "openai", 5, true, at_ms(1000));
    a.org_id = "00000000-0000-4000-8000-00000000aaaa";
    auto b = usage(2, "u2", "openai", 6, false, at_ms(3000));
    b.outcome = "provider_failure";
    const auto c = usage(3, "u1", "openai", 7, true, at_ms(2000));
    const auto d = usage(4, "u1", "gemini", 8, true, at_ms(4000));
    // Same millisecond as b, stored later: comes first.
    const auto e = usage(5, "u1", "openai", 9, true, at_ms(3000));
    must_store(store, {a, b, c, d});
    must_store(store, {e});

    auto all = must_recent(store, {"openai", std::nullopt}, 10);
    std::vector<std::string> ids;
    for (const auto& x : all) ids.push_back(x.event_id);
    CHECK(ids == std::vector<std::string>{e.event_id, b.event_id, c.event_id, a.event_id});

    auto two = must_recent(store, {"openai", std::nullopt}, 2);
    REQUIRE(two.size() == 2);
    CHECK(two[1].event_id == b.event_id);
    CHECK(two[1].user_id == "u2");
    CHECK(two[1].tokens == 6);
    CHECK_FALSE(two[1].allowed);
    CHECK(two[1].outcome == "provider_failure");
    CHECK(two[1].occurred_at == at_ms(3000));
    CHECK(two[1].provider == "openai");
    CHECK_FALSE(two[1].org_id.has_value());

    auto mine = must_recent(store, {"openai", "u1"}, 10);
    REQUIRE(mine.size() == 3);
    CHECK(mine[2].event_id == a.event_id);
    CHECK(mine[2].org_id == a.org_id);
    CHECK(must_recent(store, {std::nullopt, "u1"}, 10).size() == 4);
    CHECK(must_recent(store, {"qwen", std::nullopt}, 10).empty());
    CHECK(must_recent(store, {"openai", std::nullopt}, 0).empty());
}
TEST_CASE_TEMPLATE_APPLY(recent_case, UsageContractBackends);

TEST_CASE_TEMPLATE_DEFINE("window totals are exact at millisecond and minute boundaries", B, boundaries_case) {
    B backend;
    if (skipped(backend)) return;
    auto& store = backend.store();
    // One event on a minute boundary, one just before it, one in the middle of a minute.
    const auto on = usage(1, "u1", "openai", 100, true, at_ms(120'000));
    const auto before = usage(2, "u1", "openai", 10, true, at_ms(119'999));
    const auto middle = usage(3, "u2", "openai", 1, false, at_ms(150'000));
    must_store(store, {on, before, middle});
    const UsageScope all{"openai", std::nullopt};

    CHECK(must_totals(store, all, at_ms(120'000), at_ms(120'001)).allowed_tokens == 100);  // from is inclusive
    CHECK(must_totals(store, all, at_ms(119'000), at_ms(120'000)).allowed_tokens == 10);   // to is exclusive
    CHECK(must_totals(store, all, at_ms(119'999), at_ms(180'000)) == UsageTotals{2, 1, 110, 1});
    CHECK(must_totals(store, all, at_ms(120'000), at_ms(180'000)) == UsageTotals{1, 1, 100, 1});
    CHECK(must_totals(store, all, at_ms(60'000), at_ms(120'000)) == UsageTotals{1, 0, 10, 0});
    CHECK(must_totals(store, all, at_ms(150'001), at_ms(240'000)) == UsageTotals{});
    CHECK(must_totals(store, all, at_ms(150'000), at_ms(150'000)) == UsageTotals{});  // empty range
    CHECK(must_totals(store, all, at_ms(200'000), at_ms(100'000)) == UsageTotals{});  // reversed range
    // Partial minutes on both sides of two whole ones.
    CHECK(must_totals(store, all, at_ms(59'000), at_ms(180'500)) == UsageTotals{2, 1, 110, 1});

    // Series: consecutive half-open ranges never count an event twice.
    const UsageTime edges[] = {at_ms(0), at_ms(119'999), at_ms(120'000), at_ms(150'000), at_ms(150'001)};
    auto s = store.series(all, edges);
    REQUIRE(s);
    REQUIRE(s->size() == 4);
    CHECK((*s)[0] == UsageTotals{});
    CHECK((*s)[1] == UsageTotals{1, 0, 10, 0});
    CHECK((*s)[2] == UsageTotals{1, 0, 100, 0});
    CHECK((*s)[3] == UsageTotals{0, 1, 0, 1});
    const UsageTime one[] = {at_ms(0)};
    CHECK(store.series(all, one)->empty());
}
TEST_CASE_TEMPLATE_APPLY(boundaries_case, UsageContractBackends);

TEST_CASE_TEMPLATE_DEFINE("rollups give exactly the sums of the raw events for any window and scope", B,
                          rollups_exact_case) {
    B backend;
    if (skipped(backend)) return;
    auto& store = backend.store();
    std::mt19937_64 rng(20260101);
    const std::vector<std::string> users{"u1", "u2", "u3", "u4"};
    const std::vector<std::string> providers{"openai", "qwen", "gemini"};
    std::vector<UsageEvent> events;
    // 3000 events over 3 hours, with bursts on minute boundaries and repeated milliseconds.
    for (int i = 0; i < 3000; ++i) {
        std::int64_t ms = static_cast<std::int64_t>(rng() % (180 * 60'000));
        if (i % 10 == 0) ms = (ms / 60'000) * 60'000;
        if (i % 17 == 0 && !events.empty()) ms = (events.back().occurred_at - kT0) / milliseconds(1);
        events.push_back(usage(i + 1, users[rng() % users.size()], providers[rng() % providers.size()],
                               static_cast<std::int64_t>(rng() % 500), rng() % 4 != 0, at_ms(ms)));
    }
    // Stored in batches, some delivered twice.
    std::size_t fresh = 0;
    for (std::size_t i = 0; i < events.size(); i += 250) {
        std::vector<UsageEvent> batch(events.begin() + static_cast<std::ptrdiff_t>(i),
                                      events.begin() + static_cast<std::ptrdiff_t>(std::min(i + 250, events.size())));
        fresh += must_store(store, batch);
        if (i % 500 == 0) CHECK(must_store(store, batch) == 0);
    }
    CHECK(fresh == events.size());

    std::vector<UsageScope> scopes{{std::nullopt, std::nullopt}, {"qwen", std::nullopt}, {std::nullopt, "u2"}, {"gemini", "u3"}};
    for (int round = 0; round < 60; ++round) {
        std::int64_t a = static_cast<std::int64_t>(rng() % (200 * 60'000)) - 10 * 60'000;
        std::int64_t b = a + static_cast<std::int64_t>(rng() % (90 * 60'000));
        if (round % 5 == 0) a = (a / 60'000) * 60'000;
        if (round % 7 == 0) b = (b / 60'000) * 60'000;
        const auto& scope = scopes[static_cast<std::size_t>(round) % scopes.size()];
        CAPTURE(round);
        CHECK(must_totals(store, scope, at_ms(a), at_ms(b)) == expected(events, scope, at_ms(a), at_ms(b)));

        auto by_user = store.breakdown({scope.provider, std::nullopt}, TimeRange{at_ms(a), at_ms(b)}, UsageDimension::user);
        REQUIRE(by_user);
        std::vector<GroupTotals> want_users;
        for (const auto& u : users) {
            auto t = expected(events, {scope.provider, u}, at_ms(a), at_ms(b));
            if (t.events() > 0) want_users.push_back({u, t});
        }
        REQUIRE(by_user->size() == want_users.size());
        for (std::size_t i = 0; i < want_users.size(); ++i) {
            CHECK((*by_user)[i].key == want_users[i].key);
            CHECK((*by_user)[i].totals == want_users[i].totals);
        }

        auto by_provider = store.breakdown({std::nullopt, scope.user_id}, TimeRange{at_ms(a), at_ms(b)},
                                           UsageDimension::provider);
        REQUIRE(by_provider);
        std::vector<GroupTotals> want_providers;
        for (const auto& p : std::set<std::string>(providers.begin(), providers.end())) {
            auto t = expected(events, {p, scope.user_id}, at_ms(a), at_ms(b));
            if (t.events() > 0) want_providers.push_back({p, t});
        }
        REQUIRE(by_provider->size() == want_providers.size());
        for (std::size_t i = 0; i < want_providers.size(); ++i) {
            CHECK((*by_provider)[i].key == want_providers[i].key);
            CHECK((*by_provider)[i].totals == want_providers[i].totals);
        }
    }

    // A series of 7-minute buckets not aligned to minutes.
    std::vector<UsageTime> edges;
    for (int i = 0; i <= 26; ++i) edges.push_back(at_ms(12'345 + i * 7 * 60'000));
    auto s = store.series({"openai", std::nullopt}, edges);
    REQUIRE(s);
    REQUIRE(s->size() == 26);
    for (std::size_t i = 0; i < s->size(); ++i) {
        CHECK((*s)[i] == expected(events, {"openai", std::nullopt}, edges[i], edges[i + 1]));
    }
}
TEST_CASE_TEMPLATE_APPLY(rollups_exact_case, UsageContractBackends);

TEST_CASE_TEMPLATE_DEFINE("concurrent stores of overlapping batches count every event once", B, concurrent_case) {
    B backend;
    if (skipped(backend)) return;
    auto& store = backend.store();
    std::vector<UsageEvent> events;
    for (int i = 0; i < 400; ++i) events.push_back(usage(i + 1, "u1", "openai", 1 + i % 3, true, at_ms(i * 1000)));
    std::atomic<std::size_t> fresh{0};
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            // Each thread stores everything, in its own batch size.
            const std::size_t step = 20 + static_cast<std::size_t>(t) * 30;
            for (std::size_t i = 0; i < events.size(); i += step) {
                std::vector<UsageEvent> batch(events.begin() + static_cast<std::ptrdiff_t>(i),
                                              events.begin() + static_cast<std::ptrdiff_t>(std::min(i + step, events.size())));
                auto r = store.store_usage(batch);
                if (r) fresh += *r; else ++errors;
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(errors.load() == 0);
    CHECK(fresh.load() == 400);
    CHECK(must_totals(store, {"openai", std::nullopt}, kT0, at_ms(3'600'000)) ==
          expected(events, {"openai", std::nullopt}, kT0, at_ms(3'600'000)));
}
TEST_CASE_TEMPLATE_APPLY(concurrent_case, UsageContractBackends);

TEST_CASE_TEMPLATE_DEFINE("purchase figures count each saga once and only completed tokens", B, purchases_case) {
    B backend;
    if (skipped(backend)) return;
    auto& store = backend.store();
    const std::vector<PurchaseEvent> events{
        purchase(1, "TOKEN_PURCHASE_STARTED", "s1", "u1", 100, at_ms(1000)),
        purchase(2, "TOKEN_PAYMENT_RESERVED", "s1", "u1", 100, at_ms(2000)),
        purchase(3, "TOKEN_ALLOCATED", "s1", "u1", 100, at_ms(3000)),
        purchase(4, "TOKEN_PURCHASE_COMPLETED", "s1", "u1", 100, at_ms(4000)),
        // Completion reported again by recovery, with its own event id.
        purchase(5, "TOKEN_PURCHASE_COMPLETED", "s1", "u1", 100, at_ms(5000)),
        purchase(6, "TOKEN_PURCHASE_STARTED", "s2", "u1", 50, at_ms(6000)),
        purchase(7, "TOKEN_PURCHASE_FAILED", "s2", "u1", 50, at_ms(7000)),
        purchase(8, "PAYMENT_RELEASE_REQUESTED", "s2", "u1", 50, at_ms(8000)),
        purchase(9, "TOKEN_PURCHASE_STARTED", "s3", "u2", 30, at_ms(9000)),
        purchase(10, "TOKEN_PURCHASE_COMPLETED", "s3", "u2", 30, at_ms(10'000)),
    };
    auto stored = store.store_purchases(events);
    REQUIRE(stored);
    CHECK(*stored == events.size());
    CHECK(*store.store_purchases(events) == 0);

    auto mine = store.purchases({std::nullopt, "u1"}, TimeRange{kT0, at_ms(60'000)});
    REQUIRE(mine);
    CHECK(*mine == PurchaseTotals{2, 1, 1, 100});
    auto everyone = store.purchases({}, TimeRange{kT0, at_ms(60'000)});
    REQUIRE(everyone);
    CHECK(*everyone == PurchaseTotals{3, 2, 1, 130});
    // The window bounds apply to the events: s3 completed at 10 s, outside [0, 10 s).
    auto early = store.purchases({}, TimeRange{kT0, at_ms(10'000)});
    REQUIRE(early);
    CHECK(*early == PurchaseTotals{3, 1, 1, 100});
    auto other = store.purchases({"qwen", std::nullopt}, TimeRange{kT0, at_ms(60'000)});
    REQUIRE(other);
    CHECK(*other == PurchaseTotals{});
}
TEST_CASE_TEMPLATE_APPLY(purchases_case, UsageContractBackends);

TEST_CASE_TEMPLATE_DEFINE("purge removes old raw events and ended rollup minutes in bounded chunks", B, purge_case) {
    B backend;
    if (skipped(backend)) return;
    auto& store = backend.store();
    std::vector<UsageEvent> events;
    for (int i = 0; i < 10; ++i) events.push_back(usage(i + 1, "u1", "openai", 1, true, at_ms(i * 60'000 + 30'000)));
    must_store(store, events);
    REQUIRE(store.store_purchases(std::vector<PurchaseEvent>{
        purchase(1, "TOKEN_PURCHASE_STARTED", "s1", "u1", 5, at_ms(1000)),
        purchase(2, "TOKEN_PURCHASE_COMPLETED", "s1", "u1", 5, at_ms(9 * 60'000))}));

    // Raw events before minute 5 go; rollups of minutes that ended by 2:30 go (minutes 0 and 1).
    std::size_t total = 0;
    for (int round = 0; round < 20; ++round) {
        auto n = store.purge(at_ms(5 * 60'000), at_ms(150'000), 2);
        REQUIRE(n);
        CHECK(*n <= 8);  // at most 2 per table
        if (*n == 0) break;
        total += *n;
    }
    // 5 usage events + 1 purchase + 2 provider rollups + 2 user rollups.
    CHECK(total == 10);
    auto left = must_recent(store, {"openai", std::nullopt}, 100);
    REQUIRE(left.size() == 5);
    CHECK(left.back().occurred_at == at_ms(5 * 60'000 + 30'000));
    // Whole minutes 2..4 still come from the rollups; minutes 0..1 are gone.
    CHECK(must_totals(store, {"openai", std::nullopt}, kT0, at_ms(5 * 60'000)).allowed_events == 3);
    CHECK(must_totals(store, {"openai", "u1"}, kT0, at_ms(10 * 60'000)).allowed_events == 8);
    auto p = store.purchases({}, TimeRange{kT0, at_ms(60 * 60'000)});
    REQUIRE(p);
    CHECK(*p == PurchaseTotals{0, 1, 0, 5});
}
TEST_CASE_TEMPLATE_APPLY(purge_case, UsageContractBackends);

TEST_CASE_TEMPLATE_DEFINE("compaction deletes raw usage events of ended minutes and the rollups keep their totals", B,
                          compact_case) {
    B backend;
    if (skipped(backend)) return;
    auto& store = backend.store();
    std::vector<UsageEvent> events;
    for (int i = 0; i < 10; ++i) events.push_back(usage(i + 1, "u1", "openai", i + 1, i % 3 != 0, at_ms(i * 60'000 + 30'000)));
    must_store(store, events);
    REQUIRE(store.store_purchases(std::vector<PurchaseEvent>{
        purchase(1, "TOKEN_PURCHASE_COMPLETED", "s1", "u1", 5, at_ms(1000))}));
    const auto whole_before = must_totals(store, {"openai", std::nullopt}, kT0, at_ms(10 * 60'000));

    // Before 5:40: minutes 0..4 go whole (5:00..5:40 is a partial minute: its raw events stay).
    std::size_t total = 0;
    for (int round = 0; round < 20; ++round) {
        auto n = store.compact_usage(at_ms(5 * 60'000 + 40'000), 2);
        REQUIRE(n);
        CHECK(*n <= 2);
        if (*n == 0) break;
        total += *n;
    }
    CHECK(total == 5);
    auto left = must_recent(store, {"openai", std::nullopt}, 100);
    REQUIRE(left.size() == 5);
    CHECK(left.back().occurred_at == at_ms(5 * 60'000 + 30'000));
    // Whole minutes still add up exactly, from the rollups; purchases are untouched.
    CHECK(must_totals(store, {"openai", std::nullopt}, kT0, at_ms(10 * 60'000)) == whole_before);
    CHECK(must_totals(store, {"openai", "u1"}, kT0, at_ms(10 * 60'000)) == whole_before);
    auto p = store.purchases({}, TimeRange{kT0, at_ms(60 * 60'000)});
    REQUIRE(p);
    CHECK(p->purchased_tokens == 5);
}
TEST_CASE_TEMPLATE_APPLY(compact_case, UsageContractBackends);

TEST_CASE_TEMPLATE_DEFINE("migrate can run again and keeps the data", B, migrate_again_case) {
    B backend;
    if (skipped(backend)) return;
    auto& store = backend.store();
    must_store(store, {usage(1, "u1", "openai", 4, true, at_ms(0))});
    REQUIRE(store.migrate());
    CHECK(must_recent(store, {"openai", std::nullopt}, 10).size() == 1);
    CHECK(must_store(store, {}) == 0);
}
TEST_CASE_TEMPLATE_APPLY(migrate_again_case, UsageContractBackends);
