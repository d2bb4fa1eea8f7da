// Unit tests of the token module's pure pieces: tiers, the circuit breaker, input validation.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "provider_caller.hpp"
#include "tiers.hpp"
#include "token_http.hpp"

using namespace lt::token;

namespace {
TiersConfig original_tiers() {
    TiersConfig t;
    t.default_tier = "USER";
    t.levels["USER"] = TierLevel{"USER", 10, 1.0, 1.0, 100000};
    t.levels["ADMIN"] = TierLevel{"ADMIN", 100, 2.0, 2.0, 500000};
    return t;
}
}  // namespace

TEST_CASE("the highest-priority matching role decides the tier, with or without the ROLE_ prefix") {
    auto t = original_tiers();
    CHECK(resolve_tier(t, {"USER"}).name == "USER");
    CHECK(resolve_tier(t, {"USER", "ADMIN"}).name == "ADMIN");
    CHECK(resolve_tier(t, {"ROLE_admin"}).name == "ADMIN");
    CHECK(resolve_tier(t, {"AUDITOR"}).name == "USER");  // no match: the default tier
    CHECK(resolve_tier(t, {}).name == "USER");
    CHECK(resolve_tier(TiersConfig{}, {"ADMIN"}).name.empty());  // no levels: neutral
    CHECK(resolve_tier(t, {"ADMIN"}).quota_cap == 500000);
}

TEST_CASE("tier multipliers scale the bucket as the original does") {
    BucketParams base{1000, 10.0, 60, Strategy::leaky_bucket};
    auto admin = scale(base, resolve_tier(original_tiers(), {"ADMIN"}));
    CHECK(admin.capacity == 2000);
    CHECK(admin.rate_per_second == doctest::Approx(20.0));
    Tier tiny{"T", 0.0001, 0.00001, std::nullopt};
    auto small = scale(base, tiny);
    CHECK(small.capacity == 1);
    CHECK(small.rate_per_second == doctest::Approx(0.0001));
}

TEST_CASE("the circuit breaker opens at the failure threshold, refuses while open, and closes after a good probe") {
    ResilienceConfig c;
    c.window_size = 20;
    c.minimum_calls = 10;
    c.failure_rate_threshold = 50;
    c.open_duration = std::chrono::seconds(10);
    CircuitBreaker cb;
    auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    for (int i = 0; i < 9; ++i) {
        REQUIRE(cb.allow(t0));
        cb.record(false, t0, c);
    }
    CHECK(cb.state() == CircuitBreaker::State::closed);  // fewer than the minimum number of calls
    REQUIRE(cb.allow(t0));
    cb.record(true, t0, c);  // 9 failures of 10 = 90 % ≥ 50 %
    CHECK(cb.state() == CircuitBreaker::State::open);
    CHECK_FALSE(cb.allow(t0 + std::chrono::seconds(5)));
    auto later = t0 + std::chrono::seconds(11);
    CHECK(cb.allow(later));        // one probe
    CHECK_FALSE(cb.allow(later));  // only one at a time
    cb.record(true, later, c);
    CHECK(cb.state() == CircuitBreaker::State::closed);
}

TEST_CASE("a failed half-open probe opens the circuit again") {
    ResilienceConfig c;
    c.minimum_calls = 2;
    c.window_size = 2;
    CircuitBreaker cb;
    auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    cb.allow(t0);
    cb.record(false, t0, c);
    cb.allow(t0);
    cb.record(false, t0, c);
    REQUIRE(cb.state() == CircuitBreaker::State::open);
    auto later = t0 + c.open_duration + std::chrono::seconds(1);
    REQUIRE(cb.allow(later));
    cb.record(false, later, c);
    CHECK(cb.state() == CircuitBreaker::State::open);
    CHECK_FALSE(cb.allow(later));
}

TEST_CASE("the breaker judges each outcome by the settings of its call, so refreshed thresholds apply at once") {
    ResilienceConfig loose;
    loose.window_size = 10;
    loose.minimum_calls = 4;
    loose.failure_rate_threshold = 100;
    CircuitBreaker cb;
    auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    for (bool ok : {false, true, false, true}) {
        REQUIRE(cb.allow(t0));
        cb.record(ok, t0, loose);
    }
    CHECK(cb.state() == CircuitBreaker::State::closed);  // 50 % < 100 %
    ResilienceConfig strict = loose;
    strict.failure_rate_threshold = 50;  // token.provider.circuit-breaker.failure-rate-threshold refreshed
    REQUIRE(cb.allow(t0));
    cb.record(false, t0, strict);  // 3 of 5 = 60 % ≥ 50 %
    CHECK(cb.state() == CircuitBreaker::State::open);
}

TEST_CASE("tokens must be a JSON integer from 1 to 2147483647") {
    auto parse = [](const char* json) { return parse_tokens(boost::json::parse(json).as_object()); };
    CHECK(parse(R"({"tokens":1})").value() == 1);
    CHECK(parse(R"({"tokens":2147483647})").value() == 2147483647);
    CHECK(parse(R"({})").error().message == "tokens must be positive");
    CHECK(parse(R"({"tokens":0})").error().message == "tokens must be positive");
    CHECK(parse(R"({"tokens":-1})").error().message == "tokens must be positive");
    CHECK(parse(R"({"tokens":2147483648})").error().message == "tokens too large");
    CHECK(parse(R"({"tokens":18446744073709551615})").error().message == "tokens too large");
    CHECK_FALSE(parse(R"({"tokens":"5"})"));
    CHECK_FALSE(parse(R"({"tokens":1.5})"));
    CHECK_FALSE(parse(R"({"tokens":true})"));
    CHECK_FALSE(parse(R"({"tokens":[1]})"));
}
