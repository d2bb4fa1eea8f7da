#pragma once
/// The pure arithmetic of a pool (CONTRACT 18): lazy window reset with the tier cap, and the debit
/// that spends the allowance before purchased tokens. No locks, no I/O: callers hold the pool lock.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

#include "quota/quota_types.hpp"

namespace lt::token {

/// The committed balances of a pool.
struct PoolBalance {
    std::int64_t allowance = 0;            ///< A
    std::int64_t allowance_remaining = 0;  ///< a
    std::int64_t purchased_total = 0;      ///< P
    std::int64_t purchased_remaining = 0;  ///< p
    std::optional<std::chrono::system_clock::time_point> reset_time;

    friend bool operator==(const PoolBalance&, const PoolBalance&) = default;
};

/// The allowance a user pool may have under a tier cap (`quotaMaxTokens`): min(A, cap). A cap that is
/// absent or ≤ 0 means no cap; org pools are never capped.
inline std::int64_t capped_allowance(std::int64_t allowance, OwnerType type, std::optional<std::int64_t> tier_cap) {
    if (type != OwnerType::user || !tier_cap || *tier_cap <= 0) return allowance;
    return std::min(allowance, *tier_cap);
}

/// Lazy window reset, applied on access. With a window ≤ 0 nothing happens. A pool without a reset
/// time gets now + window (balances unchanged). Once now ≥ reset time: A becomes capped_allowance(A),
/// a = A, reset time = now + window; purchased tokens are untouched. Returns true when `b` changed.
inline bool apply_window_reset(PoolBalance& b, OwnerType type, std::optional<std::int64_t> tier_cap,
                               std::chrono::system_clock::time_point now, std::chrono::milliseconds window) {
    if (window <= std::chrono::milliseconds::zero()) return false;
    const auto next = now + std::chrono::duration_cast<std::chrono::system_clock::duration>(window);
    if (!b.reset_time) {
        b.reset_time = next;
        return true;
    }
    if (now < *b.reset_time) return false;
    b.allowance = capped_allowance(b.allowance, type, tier_cap);
    b.allowance_remaining = b.allowance;
    b.reset_time = next;
    return true;
}

/// How a debit was split.
struct Debit {
    std::int64_t from_allowance = 0;  ///< taken from a
    std::int64_t from_purchased = 0;  ///< taken from p
};

/// Spends `n` tokens: the allowance first, then purchased tokens. Never drives a balance negative:
/// if the pool cannot cover n (an admin lowered the allowance while the request was in flight) only
/// what is there is taken.
inline Debit debit(PoolBalance& b, std::int64_t n) {
    Debit d;
    d.from_allowance = std::clamp<std::int64_t>(n, 0, b.allowance_remaining);
    d.from_purchased = std::clamp<std::int64_t>(n - d.from_allowance, 0, b.purchased_remaining);
    b.allowance_remaining -= d.from_allowance;
    b.purchased_remaining -= d.from_purchased;
    return d;
}

}  // namespace lt::token
