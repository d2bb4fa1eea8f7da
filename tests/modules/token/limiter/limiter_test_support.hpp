#pragma once
/// Shared helpers of the rate limiter tests: a limiter over a MemoryKeyValueStore on a FakeClock. The
/// limiter is awaitable; plain threads await it with run_sync.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "limiter/rate_limiter.hpp"
#include "lt/adapters/memory_key_value_store.hpp"
#include "lt/core/clock.hpp"
#include "support/run_sync.hpp"

namespace lt::token::testing {

using lt::test::run_sync;

/// Bucket parameters with the seed's defaults (C = 1000, r = 10/s, W = 60 s).
inline BucketParams params(Strategy strategy, std::int64_t capacity = 1000, double rate = 10.0,
                           std::int64_t window_seconds = 60) {
    return BucketParams{capacity, rate, window_seconds, strategy};
}

/// A RateLimiter on a memory store whose time is a FakeClock; times passed as `now` come from it.
struct LimiterFixture {
    FakeClock clock;
    adapters::MemoryKeyValueStore store{clock};
    RateLimiter limiter{store};

    /// acquire() at the clock's time; fails the case on an error.
    BucketDecision take(std::string_view key, const BucketParams& p, std::int64_t tokens) {
        auto decision = run_sync(limiter.acquire(key, p, tokens, clock.now()));
        REQUIRE_MESSAGE(decision.has_value(), (decision ? std::string() : decision.error().message));
        return *decision;
    }
    /// refund() at the clock's time; fails the case on an error.
    void give_back(std::string_view key, const BucketParams& p, std::int64_t tokens) {
        auto done = run_sync(limiter.refund(key, p, tokens, clock.now()));
        REQUIRE_MESSAGE(done.has_value(), (done ? std::string() : done.error().message));
    }
    void advance(std::chrono::milliseconds d) { clock.advance(d); }
};

}  // namespace lt::token::testing
