// Atomicity of the rate limiter: 32 threads on one key with a frozen clock admit exactly the capacity,
// with and without refunds interleaved. Also a (skipped by default) throughput measurement:
//   build-limiter/tests/token_limiter_test -tc="rate limiter throughput*" --no-skip

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "limiter_test_support.hpp"

namespace {

using lt::token::BucketParams;
using lt::token::kScale;
using lt::token::RateLimiter;
using lt::token::Strategy;
using lt::token::testing::LimiterFixture;
using lt::token::testing::params;
using lt::token::testing::run_sync;

constexpr int kThreads = 32;
constexpr int kAttempts = 2000;
/// The last attempts of every thread ask for 1 token, so the bucket ends exactly full.
constexpr int kOneTokenTail = 100;
constexpr std::int64_t kCapacity = 50000;
// Even at 1 token per random attempt the demand exceeds the capacity, so the bucket saturates.
static_assert(std::int64_t{kThreads} * (kAttempts - kOneTokenTail) > kCapacity);

/// Test script: replies the raw fields without changing them (a missing key reads as zeros).
lt::ports::AtomicScript peek_script() {
    lt::ports::AtomicScript script;
    script.name = "peek";
    script.native = [](lt::ports::KvState& state, std::span<const std::int64_t>) {
        return std::vector<std::int64_t>{state.fields[0], state.fields[1], state.fields[2], state.fields[3]};
    };
    return script;
}

/// Tokens the raw state says are taken, in micro-tokens.
std::int64_t taken_units(Strategy s, std::int64_t f0) {
    switch (s) {
        case Strategy::leaky_bucket: return f0;
        case Strategy::token_bucket: return kCapacity * kScale - f0;
        case Strategy::fixed_window: return f0 * kScale;
    }
    return 0;
}

struct Totals {
    std::atomic<std::int64_t> admitted{0};
    std::atomic<std::int64_t> refunded{0};
    std::atomic<int> errors{0};
    std::atomic<int> bad_replies{0};
    std::atomic<int> over_capacity{0};
};

/// Runs the 32 threads against one key; with `refunds`, each thread gives back about a quarter of
/// what it was admitted during its random phase (a recent admission of its own, so the refund never
/// returns more than is in the bucket).
void hammer(LimiterFixture& f, const BucketParams& p, bool refunds, Totals& totals) {
    const std::string key = "hot";
    const auto now = f.clock.now();  // frozen: nothing leaks, refills or expires
    std::atomic<bool> done{false};
    std::thread monitor([&] {
        const auto peek = peek_script();
        const std::int64_t no_args[] = {0};
        while (!done.load()) {
            auto raw = run_sync(f.store.atomic_update(key, peek, no_args, std::chrono::hours(1)));
            if (!raw) {
                ++totals.errors;
            } else if ((*raw)[3] != 0 && taken_units(p.strategy, (*raw)[0]) > kCapacity * kScale) {
                ++totals.over_capacity;
            }
            std::this_thread::yield();
        }
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937 rng(static_cast<std::uint32_t>(1234 + t));
            std::uniform_int_distribution<std::int64_t> size(1, 5);
            std::vector<std::int64_t> mine;
            for (int i = 0; i < kAttempts; ++i) {
                const bool tail = i >= kAttempts - kOneTokenTail;
                const std::int64_t n = tail ? 1 : size(rng);
                auto d = run_sync(f.limiter.acquire(key, p, n, now));
                if (!d) {
                    ++totals.errors;
                    continue;
                }
                if (d->used + d->remaining != kCapacity || d->used < 0 || d->used > kCapacity ||
                    (d->allowed ? d->wait_seconds != 0 : d->wait_seconds <= 0)) {
                    ++totals.bad_replies;
                }
                if (!d->allowed) continue;
                totals.admitted += n;
                mine.push_back(n);
                if (refunds && !tail && rng() % 4 == 0) {
                    const std::int64_t back = mine.back();
                    mine.pop_back();
                    if (run_sync(f.limiter.refund(key, p, back, now))) {
                        totals.refunded += back;
                    } else {
                        ++totals.errors;
                    }
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    done = true;
    monitor.join();
}

void check_exact_capacity(Strategy strategy, bool refunds) {
    LimiterFixture f;
    const BucketParams p = params(strategy, kCapacity);
    Totals totals;
    hammer(f, p, refunds, totals);
    REQUIRE(totals.errors.load() == 0);
    CHECK(totals.bad_replies.load() == 0);
    CHECK(totals.over_capacity.load() == 0);
    const std::int64_t net = totals.admitted.load() - totals.refunded.load();
    CHECK(net <= kCapacity);
    // The reported use is exactly what was admitted and not refunded: no update was lost.
    const auto state = f.take("hot", p, 0);
    CHECK(state.used == net);
    if (!refunds) {
        CHECK(net == kCapacity);
    }
    // Top up with single tokens: exactly the room left is admitted, then the bucket is full.
    std::int64_t topped = 0;
    while (f.take("hot", p, 1).allowed) ++topped;
    CHECK(net + topped == kCapacity);
    const auto full = f.take("hot", p, 0);
    CHECK(full.used == kCapacity);
    CHECK(full.remaining == 0);
}

/// `calls` acquires over `keys` (time advancing 1 ms per 1000 calls); returns how many failed.
boost::asio::awaitable<int> acquire_loop(RateLimiter* limiter, const std::vector<std::string>* keys,
                                         std::chrono::system_clock::time_point now, int calls) {
    const auto p = params(Strategy::leaky_bucket);
    int failures = 0;
    for (int i = 0; i < calls; ++i) {
        if (i % 1000 == 0) now += std::chrono::milliseconds(1);
        auto op = limiter->acquire((*keys)[static_cast<std::size_t>(i) % keys->size()], p, 1 + i % 5, now);
        if (!co_await std::move(op)) ++failures;
    }
    co_return failures;
}

}  // namespace

TEST_CASE("32 threads on one leaky bucket with a frozen clock admit exactly its capacity") {
    check_exact_capacity(Strategy::leaky_bucket, false);
}

TEST_CASE("32 threads on one token bucket with a frozen clock admit exactly its capacity") {
    check_exact_capacity(Strategy::token_bucket, false);
}

TEST_CASE("32 threads on one fixed window with a frozen clock admit exactly its capacity") {
    check_exact_capacity(Strategy::fixed_window, false);
}

TEST_CASE("32 threads on one leaky bucket with refunds never hold more than its capacity") {
    check_exact_capacity(Strategy::leaky_bucket, true);
}

TEST_CASE("32 threads on one token bucket with refunds never hold more than its capacity") {
    check_exact_capacity(Strategy::token_bucket, true);
}

TEST_CASE("32 threads on one fixed window with refunds never hold more than its capacity") {
    check_exact_capacity(Strategy::fixed_window, true);
}

TEST_CASE("rate limiter throughput on distinct keys" * doctest::skip()) {
    constexpr int kKeys = 10000;
    constexpr int kCalls = 2'000'000;
    LimiterFixture f;
    // The calls are awaited from one coroutine per thread, as the consume path does.
    auto run = [&](int thread, int calls) {
        std::vector<std::string> keys;
        for (int k = 0; k < kKeys; ++k) {
            std::string key = "t";
            key += std::to_string(thread);
            key += ":user-";
            key += std::to_string(k);
            key += ":openai";
            keys.push_back(std::move(key));
        }
        const int failures = run_sync(acquire_loop(&f.limiter, &keys, f.clock.now(), calls));
        if (failures != 0) FAIL("acquire failed");
    };
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    run(0, kCalls);
    const double single = kCalls / std::chrono::duration<double>(Clock::now() - t0).count();
    const auto t1 = Clock::now();
    std::thread a([&] { run(1, kCalls); });
    std::thread b([&] { run(2, kCalls); });
    a.join();
    b.join();
    const double dual = 2.0 * kCalls / std::chrono::duration<double>(Clock::now() - t1).count();
    // The leaky bucket script alone, without the store (one reply vector allocation per call).
    const auto& script = RateLimiter::script(Strategy::leaky_bucket);
    lt::ports::KvState state;
    std::int64_t sink = 0;
    const auto t2 = Clock::now();
    for (int i = 0; i < kCalls; ++i) {
        const std::int64_t args[] = {1767225600000 + i / 1000, 1000, 10000, 1 + i % 5};
        sink += script.native(state, args)[0];
    }
    const double native = kCalls / std::chrono::duration<double>(Clock::now() - t2).count();
    CHECK(sink > 0);
    MESSAGE("native leaky script alone: " << static_cast<std::int64_t>(native) << "/s");
    MESSAGE("acquire(): 1 thread " << static_cast<std::int64_t>(single) << "/s, 2 threads (distinct keys) "
                                   << static_cast<std::int64_t>(dual) << "/s");
}
