#pragma once
/// Integer arithmetic shared by the native bucket scripts. Every function mirrors, operation for
/// operation, the Lua helpers in bucket_scripts.cpp; values stay below 2^53 (see rate_limiter.hpp).

#include <cstdint>

#include "limiter/rate_limiter.hpp"

namespace lt::token::detail {

/// Value of f3 that tells which strategy wrote a key.
inline constexpr std::int64_t kTagLeaky = 1;
inline constexpr std::int64_t kTagTokenBucket = 2;
inline constexpr std::int64_t kTagFixedWindow = 3;

/// ceil(a / b) for a >= 0, b > 0.
constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return a / b + (a % b > 0 ? 1 : 0); }

/// Time elapsed since `last` and the timestamp to store (see "Clock" in rate_limiter.hpp).
struct Elapsed {
    std::int64_t elapsed_ms;
    std::int64_t stored_ms;
};
constexpr Elapsed elapsed_since(std::int64_t last_ms, std::int64_t now_ms) {
    if (now_ms >= last_ms) return {now_ms - last_ms, now_ms};
    if (last_ms - now_ms <= kClockStepTolerance.count()) return {0, last_ms};
    return {0, now_ms};
}

/// Leaky bucket level (micro-tokens) after `elapsed_ms` at `rate` micro-tokens/ms. Exact: the
/// product is formed only when it is smaller than `level`, so it cannot overflow.
constexpr std::int64_t leak(std::int64_t level, std::int64_t elapsed_ms, std::int64_t rate) {
    if (rate > 0 && level > 0) {
        if (elapsed_ms >= ceil_div(level, rate)) return 0;
        return level - elapsed_ms * rate;
    }
    return level;
}

/// Token bucket availability (micro-tokens, <= cap_units) after `elapsed_ms` at `rate`.
constexpr std::int64_t refill(std::int64_t available, std::int64_t cap_units, std::int64_t elapsed_ms,
                              std::int64_t rate) {
    if (available > cap_units) return cap_units;
    if (rate > 0 && available < cap_units) {
        if (elapsed_ms >= ceil_div(cap_units - available, rate)) return cap_units;
        return available + elapsed_ms * rate;
    }
    return available;
}

/// Whole seconds until `deficit` micro-tokens have leaked/refilled at `rate`; -1 when rate <= 0.
constexpr std::int64_t wait_for(std::int64_t deficit, std::int64_t rate) {
    return rate > 0 ? ceil_div(deficit, rate * 1000) : -1;
}

}  // namespace lt::token::detail
