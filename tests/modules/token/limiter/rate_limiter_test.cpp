// Semantics of the rate limiter: the worked examples of seed §4.1, the fixes of the contract
// decisions (token buckets start full, no fractional leak lost, ceil waits, refunds), tier scaling
// (§4.4), clock steps and expiry.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

#include "limiter_test_support.hpp"

namespace {

using lt::token::BucketDecision;
using lt::token::kMaxTokens;
using lt::token::kWaitForever;
using lt::token::parse_strategy;
using lt::token::Strategy;
using lt::token::testing::LimiterFixture;
using lt::token::testing::params;
using lt::token::testing::run_sync;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kLeaky = Strategy::leaky_bucket;
constexpr auto kToken = Strategy::token_bucket;
constexpr auto kWindow = Strategy::fixed_window;

void check(const BucketDecision& d, bool allowed, std::int64_t used, std::int64_t remaining, std::int64_t wait) {
    CHECK(d.allowed == allowed);
    CHECK(d.used == used);
    CHECK(d.remaining == remaining);
    CHECK(d.wait_seconds == wait);
}

/// The original's leaky bucket (seed §4.1, floor of the leak, remainder discarded) fed one `tokens`
/// request every `period_ms` from t = 0 to `duration_ms` inclusive; returns the tokens it admits.
std::int64_t original_leaky_admitted(std::int64_t capacity, double rate, std::int64_t period_ms,
                                     std::int64_t duration_ms) {
    std::int64_t current = 0;
    std::int64_t last = 0;
    std::int64_t admitted = 0;
    for (std::int64_t t = 0; t <= duration_ms; t += period_ms) {
        const auto leaked = static_cast<std::int64_t>(std::floor((t - last) / 1000.0 * rate));
        if (leaked > 0) {
            current = std::max<std::int64_t>(0, current - leaked);
            last = t;
        }
        if (1 <= capacity - current) {
            current += 1;
            ++admitted;
        }
    }
    return admitted;
}

}  // namespace

TEST_CASE("strategies parse case-insensitively and unknown names are refused") {
    CHECK(parse_strategy("LEAKY_BUCKET") == kLeaky);
    CHECK(parse_strategy("token_bucket") == kToken);
    CHECK(parse_strategy("Fixed_Window") == kWindow);
    CHECK_FALSE(parse_strategy("SLIDING_WINDOW").has_value());
    CHECK_FALSE(parse_strategy("LEAKY_BUCKET ").has_value());
    CHECK_FALSE(parse_strategy("").has_value());
    CHECK(lt::token::to_string(kToken) == "TOKEN_BUCKET");
}

TEST_CASE("a fresh leaky bucket admits 50 tokens and reports used 50 remaining 950") {
    LimiterFixture f;
    const BucketDecision d = f.take("u:openai", params(kLeaky), 50);
    check(d, true, 50, 950, 0);
    CHECK(d.capacity == 1000);
}

TEST_CASE("a fresh leaky bucket refuses 1001 tokens with used 0 remaining 1000 and a 1 second wait") {
    LimiterFixture f;
    check(f.take("k", params(kLeaky), 1001), false, 0, 1000, 1);
}

TEST_CASE("a full leaky bucket tells a 100 token request to wait 10 seconds") {
    LimiterFixture f;
    check(f.take("k", params(kLeaky), 1000), true, 1000, 0, 0);
    check(f.take("k", params(kLeaky), 100), false, 1000, 0, 10);
    f.advance(milliseconds(100));  // 1 token leaked: 99 missing at 10/s = 9.9 s
    check(f.take("k", params(kLeaky), 100), false, 999, 1, 10);
    f.advance(milliseconds(900));  // 10 leaked: 90 missing = 9 s exactly
    check(f.take("k", params(kLeaky), 100), false, 990, 10, 9);
}

TEST_CASE("an idle leaky bucket leaks 110 tokens in 11 seconds") {
    LimiterFixture f;
    f.take("k", params(kLeaky), 1000);
    f.advance(seconds(11));
    check(f.take("k", params(kLeaky), 0), true, 890, 110, 0);
}

TEST_CASE("a leaky bucket admits by the exact fractional level and reports used rounded up") {
    LimiterFixture f;
    f.take("k", params(kLeaky), 10);
    f.advance(milliseconds(50));  // level 9.5
    check(f.take("k", params(kLeaky), 0), true, 10, 990, 0);
    check(f.take("k", params(kLeaky), 991), false, 10, 990, 1);  // 9.5 + 991 > 1000
    check(f.take("k", params(kLeaky), 990), true, 1000, 0, 0);   // 9.5 + 990 = 999.5 fits
}

TEST_CASE("a leaky bucket loses no fractional leak: 1 token every 30 ms for 60 s admits capacity + 600") {
    LimiterFixture f;
    constexpr std::int64_t kCapacity = 10;
    std::int64_t admitted = 0;
    for (std::int64_t t = 0; t <= 60000; t += 30) {
        if (f.take("k", params(kLeaky, kCapacity), 1).allowed) ++admitted;
        f.advance(milliseconds(30));
    }
    CHECK(admitted == kCapacity + 10 * 60);
    // The original discards 0.2 token at every leak and falls well short.
    CHECK(original_leaky_admitted(kCapacity, 10.0, 30, 60000) < kCapacity + 10 * 60 - 50);
}

TEST_CASE("a token bucket loses no fractional refill: 1 token every 30 ms for 60 s admits capacity + 600") {
    LimiterFixture f;
    constexpr std::int64_t kCapacity = 10;
    std::int64_t admitted = 0;
    for (std::int64_t t = 0; t <= 60000; t += 30) {
        if (f.take("k", params(kToken, kCapacity), 1).allowed) ++admitted;
        f.advance(milliseconds(30));
    }
    CHECK(admitted == kCapacity + 10 * 60);
}

TEST_CASE("a new token bucket starts full and refills at its rate up to the capacity") {
    LimiterFixture f;
    check(f.take("k", params(kToken), 1000), true, 1000, 0, 0);
    check(f.take("k", params(kToken), 1), false, 1000, 0, 1);
    f.advance(milliseconds(100));
    check(f.take("k", params(kToken), 1), true, 1000, 0, 0);
    check(f.take("k", params(kToken), 1), false, 1000, 0, 1);
    f.advance(milliseconds(250));  // 2.5 tokens available
    check(f.take("k", params(kToken), 0), true, 998, 2, 0);
    check(f.take("k", params(kToken), 3), false, 998, 2, 1);
    f.advance(seconds(1000));
    check(f.take("k", params(kToken), 0), true, 0, 1000, 0);
    check(f.take("k", params(kToken), 1001), false, 0, 1000, 1);
}

TEST_CASE("a fresh token bucket admits 50 tokens and reports used 50 remaining 950") {
    LimiterFixture f;
    check(f.take("k", params(kToken), 50), true, 50, 950, 0);
}

TEST_CASE("a request larger than the capacity keeps the finite wait formula") {
    LimiterFixture f;
    check(f.take("leaky", params(kLeaky), 5000), false, 0, 1000, 400);
    check(f.take("token", params(kToken), 5000), false, 0, 1000, 400);
}

TEST_CASE("a bucket whose rate is 0 tells a refused request to wait forever") {
    LimiterFixture f;
    check(f.take("leaky", params(kLeaky, 10, 0.0), 11), false, 0, 10, kWaitForever);
    f.take("token", params(kToken, 10, 0.0), 10);
    f.advance(hours(1));
    check(f.take("token", params(kToken, 10, 0.0), 1), false, 10, 0, kWaitForever);
}

TEST_CASE("a fixed window counts tokens, waits whole seconds rounded up and restarts at the next request") {
    LimiterFixture f;
    const auto p = params(kWindow, 5);
    check(f.take("k", p, 3), true, 3, 2, 0);
    check(f.take("k", p, 2), true, 5, 0, 0);
    check(f.take("k", p, 1), false, 5, 0, 60);
    f.advance(milliseconds(59500));
    check(f.take("k", p, 1), false, 5, 0, 1);  // the original truncated this to 0
    f.advance(milliseconds(500));
    check(f.take("k", p, 1), true, 1, 4, 0);  // the new window starts now
    f.advance(seconds(30));
    check(f.take("k", p, 4), true, 5, 0, 0);
    check(f.take("k", p, 1), false, 5, 0, 30);
    check(f.take("k", p, 6), false, 5, 0, 30);
}

TEST_CASE("a window shorter than a second counts as one second") {
    LimiterFixture f;
    const auto p = params(kWindow, 1, 10.0, 0);
    check(f.take("k", p, 1), true, 1, 0, 0);
    check(f.take("k", p, 1), false, 1, 0, 1);
    f.advance(seconds(1));
    check(f.take("k", p, 1), true, 1, 0, 0);
}

TEST_CASE("refunds give tokens back without crossing the bucket's bounds") {
    LimiterFixture f;
    f.take("leaky", params(kLeaky), 100);
    f.give_back("leaky", params(kLeaky), 40);
    check(f.take("leaky", params(kLeaky), 0), true, 60, 940, 0);
    f.give_back("leaky", params(kLeaky), 100);
    check(f.take("leaky", params(kLeaky), 0), true, 0, 1000, 0);

    f.take("token", params(kToken), 100);
    f.give_back("token", params(kToken), 30);
    check(f.take("token", params(kToken), 0), true, 70, 930, 0);
    f.give_back("token", params(kToken), 150);
    check(f.take("token", params(kToken), 0), true, 0, 1000, 0);

    const auto w = params(kWindow, 5);
    f.take("window", w, 5);
    f.give_back("window", w, 2);
    check(f.take("window", w, 2), true, 5, 0, 0);
    f.give_back("window", w, 9);
    check(f.take("window", w, 0), true, 0, 5, 0);
}

TEST_CASE("a leaky bucket refund leaks up to now first and never goes below empty") {
    LimiterFixture f;
    f.take("k", params(kLeaky), 100);
    f.advance(seconds(5));  // level 50
    f.give_back("k", params(kLeaky), 30);
    check(f.take("k", params(kLeaky), 0), true, 20, 980, 0);
}

TEST_CASE("a fixed window refund never reaches into a later window") {
    LimiterFixture f;
    const auto w = params(kWindow, 5);
    const auto first = f.clock.now();
    f.take("k", w, 5);
    f.advance(seconds(60));
    f.take("k", w, 1);  // a new window
    REQUIRE(run_sync(f.limiter.refund("k", w, 5, f.clock.now(), first)).has_value());
    check(f.take("k", w, 0), true, 1, 4, 0);
    // Without an acquire time the refund belongs to the current window.
    f.give_back("k", w, 1);
    check(f.take("k", w, 0), true, 0, 5, 0);
}

TEST_CASE("a refund on a missing key does not create it") {
    LimiterFixture f;
    f.give_back("leaky", params(kLeaky), 10);
    f.give_back("token", params(kToken), 10);
    f.give_back("window", params(kWindow), 10);
    CHECK(f.store.size() == 0);
    check(f.take("token", params(kToken), 0), true, 0, 1000, 0);
}

TEST_CASE("ADMIN tier parameters (C = 2000, r = 20/s) double the room and the pace") {
    LimiterFixture f;
    const auto admin = params(kLeaky, 2000, 20.0);
    check(f.take("k", admin, 2000), true, 2000, 0, 0);
    check(f.take("k", admin, 1), false, 2000, 0, 1);
    check(f.take("k", admin, 100), false, 2000, 0, 5);
    f.advance(seconds(5));
    check(f.take("k", admin, 100), true, 2000, 0, 0);
    f.advance(seconds(100));
    check(f.take("k", admin, 0), true, 0, 2000, 0);

    const auto admin_token = params(kToken, 2000, 20.0);
    check(f.take("t", admin_token, 1500), true, 1500, 500, 0);
    check(f.take("t", admin_token, 600), false, 1500, 500, 5);
    f.advance(seconds(5));
    check(f.take("t", admin_token, 600), true, 2000, 0, 0);
}

TEST_CASE("a capacity lowered by a tier change never reports more than the capacity") {
    LimiterFixture f;
    f.take("k", params(kLeaky, 2000, 20.0), 2000);
    // Level 2000 against C = 1000: 1000 tokens must leak at 10/s before there is any room.
    check(f.take("k", params(kLeaky), 0), false, 1000, 0, 100);
    f.take("t", params(kToken, 2000, 20.0), 0);
    check(f.take("t", params(kToken), 0), true, 0, 1000, 0);
}

TEST_CASE("a clock going backwards never adds tokens") {
    LimiterFixture f;
    const auto t0 = f.clock.now();
    REQUIRE(run_sync(f.limiter.acquire("k", params(kLeaky), 1000, t0)).has_value());
    // A small step back: no leak, the later timestamp is kept.
    check(*run_sync(f.limiter.acquire("k", params(kLeaky), 0, t0 - seconds(1))), true, 1000, 0, 0);
    check(*run_sync(f.limiter.acquire("k", params(kLeaky), 0, t0 + milliseconds(500))), true, 995, 5, 0);
    // A large step back (a reset wall clock): rebased without leaking, then leaks from there.
    const auto reset = t0 - hours(2);
    check(*run_sync(f.limiter.acquire("k", params(kLeaky), 0, reset)), true, 995, 5, 0);
    check(*run_sync(f.limiter.acquire("k", params(kLeaky), 0, reset + seconds(1))), true, 985, 15, 0);

    REQUIRE(run_sync(f.limiter.acquire("t", params(kToken), 1000, t0)).has_value());
    check(*run_sync(f.limiter.acquire("t", params(kToken), 0, t0 - seconds(30))), true, 1000, 0, 0);
    check(*run_sync(f.limiter.acquire("t", params(kToken), 0, t0 + milliseconds(500))), true, 995, 5, 0);

    const auto w = params(kWindow, 5);
    REQUIRE(run_sync(f.limiter.acquire("w", w, 5, t0)).has_value());
    check(*run_sync(f.limiter.acquire("w", w, 1, t0 - seconds(10))), false, 5, 0, 70);
    // After a reset the window ends at most one window length from the new now.
    check(*run_sync(f.limiter.acquire("w", w, 1, reset)), false, 5, 0, 60);
    check(*run_sync(f.limiter.acquire("w", w, 1, reset + seconds(60))), true, 1, 4, 0);
}

TEST_CASE("a key outlives the entry ttl while its bucket still holds tokens") {
    LimiterFixture f;
    const auto slow = params(kLeaky, 1000, 0.01);  // 100000 s to drain
    CHECK(f.limiter.ttl_for(slow) == milliseconds(100000000 + 60000));
    CHECK(f.limiter.ttl_for(params(kLeaky)) == hours(6));
    CHECK(f.limiter.ttl_for(params(kWindow)) == hours(6));
    CHECK(f.limiter.ttl_for(params(kWindow, 5, 1.0, 30 * 24 * 3600)) > hours(24 * 30));
    f.take("slow", slow, 1000);
    f.take("fast", params(kLeaky), 1000);
    f.advance(hours(7));
    check(f.take("slow", slow, 0), true, 748, 252, 0);
    CHECK(f.store.purge_expired() == 1);  // "fast" drained long ago and expired unseen
    check(f.take("fast", params(kLeaky), 0), true, 0, 1000, 0);
}

TEST_CASE("a key last written by another strategy starts afresh") {
    LimiterFixture f;
    f.take("k", params(kLeaky), 500);
    check(f.take("k", params(kToken), 0), true, 0, 1000, 0);
    check(f.take("k", params(kWindow, 5), 5), true, 5, 0, 0);
    check(f.take("k", params(kLeaky), 0), true, 0, 1000, 0);
}

TEST_CASE("out of range arguments are refused and the bounds themselves work") {
    LimiterFixture f;
    const auto now = f.clock.now();
    CHECK(run_sync(f.limiter.acquire("k", params(kLeaky, 0), 1, now)).error().code == lt::Errc::invalid_argument);
    CHECK(run_sync(f.limiter.acquire("k", params(kLeaky, kMaxTokens + 1), 1, now)).error().code == lt::Errc::invalid_argument);
    CHECK(run_sync(f.limiter.acquire("k", params(kLeaky), -1, now)).error().code == lt::Errc::invalid_argument);
    CHECK(run_sync(f.limiter.acquire("k", params(kLeaky), kMaxTokens + 1, now)).error().code == lt::Errc::invalid_argument);
    CHECK(run_sync(f.limiter.acquire("k", params(kLeaky, 10, std::nan("")), 1, now)).error().code ==
          lt::Errc::invalid_argument);
    CHECK(run_sync(f.limiter.refund("k", params(kLeaky), -1, now)).error().code == lt::Errc::invalid_argument);
    CHECK(f.store.size() == 0);

    const auto huge = params(kLeaky, kMaxTokens, 0.001);  // 1 micro-token per ms
    check(f.take("huge", huge, kMaxTokens), true, kMaxTokens, 0, 0);
    check(f.take("huge", huge, 1), false, kMaxTokens, 0, 1000);
    check(f.take("huge", huge, kMaxTokens), false, kMaxTokens, 0, kMaxTokens * 1000);
    f.advance(milliseconds(1));
    check(f.take("huge", huge, 0), true, kMaxTokens, 0, 0);  // 0.000001 token leaked, used rounds up
    const auto fast = params(kToken, kMaxTokens, 1e300);
    check(f.take("fast", fast, kMaxTokens), true, kMaxTokens, 0, 0);
    f.advance(milliseconds(444));  // 9e12 micro-tokens per ms: 4e15 takes 444.4 ms
    check(f.take("fast", fast, kMaxTokens), false, 4000000, 3996000000, 1);
    f.advance(milliseconds(1));
    check(f.take("fast", fast, kMaxTokens), true, kMaxTokens, 0, 0);
}
