// Circuit breaker and bulkhead of the gateway's per-route resilience, alone.
#include <doctest/doctest.h>

#include <chrono>

#include "resilience.hpp"
#include "support/run_sync.hpp"

using namespace std::chrono_literals;
using lt::gateway::Bulkhead;
using lt::gateway::CircuitBreaker;
using lt::gateway::ResiliencePolicy;

namespace {
ResiliencePolicy small_policy() {
    ResiliencePolicy p;
    p.sliding_window = 10;
    p.minimum_calls = 4;
    p.failure_rate = 50;
    p.open_for = 1s;
    p.half_open_calls = 2;
    return p;
}
void call(CircuitBreaker& b, bool success, std::chrono::steady_clock::time_point t) {
    auto p = b.try_acquire(t);
    REQUIRE(p.allowed);
    b.record(p, success, t);
}
}  // namespace

TEST_CASE("The circuit stays closed until the minimum number of calls, then opens at the failure threshold") {
    CircuitBreaker b(small_policy());
    auto t = std::chrono::steady_clock::time_point{} + 1h;
    call(b, false, t);
    call(b, false, t);
    call(b, false, t);
    CHECK(b.state() == CircuitBreaker::State::closed);  // 3 of 4 minimum calls
    call(b, true, t);                                     // 3 failures of 4 = 75 %
    CHECK(b.state() == CircuitBreaker::State::open);
    CHECK_FALSE(b.try_acquire(t + 999ms).allowed);
}

TEST_CASE("Below the failure threshold the circuit stays closed over a full window") {
    auto t = std::chrono::steady_clock::time_point{} + 1h;
    CircuitBreaker healthy(small_policy());
    for (int i = 0; i < 30; ++i) call(healthy, i % 4 != 0, t);  // 25 % failures
    CHECK(healthy.state() == CircuitBreaker::State::closed);
}

TEST_CASE("An open circuit turns half-open after its wait, allows the permitted calls and closes on success") {
    CircuitBreaker b(small_policy());
    auto t = std::chrono::steady_clock::time_point{} + 1h;
    for (int i = 0; i < 4; ++i) call(b, false, t);
    REQUIRE(b.state() == CircuitBreaker::State::open);
    auto later = t + 1s;
    auto p1 = b.try_acquire(later);
    auto p2 = b.try_acquire(later);
    CHECK(p1.allowed);
    CHECK(p2.allowed);
    CHECK(b.state() == CircuitBreaker::State::half_open);
    CHECK_FALSE(b.try_acquire(later).allowed);  // only two trial calls
    b.record(p1, true, later);
    b.record(p2, true, later);
    CHECK(b.state() == CircuitBreaker::State::closed);
    CHECK(b.try_acquire(later).allowed);
}

TEST_CASE("Failed trial calls reopen the circuit and an outcome from an older state is ignored") {
    CircuitBreaker b(small_policy());
    auto t = std::chrono::steady_clock::time_point{} + 1h;
    auto stale = b.try_acquire(t);  // started while closed
    for (int i = 0; i < 4; ++i) call(b, false, t);
    REQUIRE(b.state() == CircuitBreaker::State::open);
    auto later = t + 1s;
    auto p1 = b.try_acquire(later);
    auto p2 = b.try_acquire(later);
    b.record(stale, true, later);  // ignored: not one of the trial calls
    b.record(p1, false, later);
    b.record(p2, true, later);  // 50 % failures = threshold
    CHECK(b.state() == CircuitBreaker::State::open);
    CHECK_FALSE(b.try_acquire(later + 500ms).allowed);
}

TEST_CASE("The breaker reports each transition") {
    CircuitBreaker b(small_policy());
    std::vector<CircuitBreaker::State> seen;
    b.on_transition([&](CircuitBreaker::State s) { seen.push_back(s); });
    auto t = std::chrono::steady_clock::time_point{} + 1h;
    for (int i = 0; i < 4; ++i) call(b, false, t);
    call(b, true, t + 1s);
    call(b, true, t + 1s);
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == CircuitBreaker::State::open);
    CHECK(seen[1] == CircuitBreaker::State::half_open);
    CHECK(seen[2] == CircuitBreaker::State::closed);
}

TEST_CASE("The bulkhead admits its maximum, refuses after its wait and admits a waiter when a slot frees") {
    Bulkhead b(2);
    CHECK(b.try_enter());
    CHECK(b.try_enter());
    CHECK_FALSE(b.try_enter());
    auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(lt::test::run_sync(b.enter(50ms)));
    CHECK(std::chrono::steady_clock::now() - start >= 45ms);
    b.leave();
    CHECK(lt::test::run_sync(b.enter(0ms)));
    CHECK(b.active() == 2);
    b.leave();
    b.leave();
    CHECK(b.active() == 0);
}
