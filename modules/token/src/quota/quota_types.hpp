#pragma once
/// Value types of the quota layer: pool keys and views, outbox rows, options.

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace lt::token {

/// Who owns a pool.
enum class OwnerType { user, org };

/// "user" or "org" (the token_pools.owner_type column).
std::string_view to_string(OwnerType type);

/// Identifies one pool: (owner type, owner id, provider). The service lower-cases the provider
/// (CONTRACT 14); the owner id is compared exactly (callers pass canonical lower-case UUIDs).
struct PoolKey {
    OwnerType type = OwnerType::user;
    std::string owner_id;
    std::string provider;

    friend bool operator==(const PoolKey&, const PoolKey&) = default;
};

/// a + b, saturating at INT64_MAX (balances are non-negative).
inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
    return a > std::numeric_limits<std::int64_t>::max() - b ? std::numeric_limits<std::int64_t>::max() : a + b;
}

/// A pool as seen by a caller (CONTRACT 18): allowance A per window with a remaining part a,
/// purchased tokens P credited in total with p remaining. Committed values: reserved-but-unsettled
/// tokens are reported apart in `pending` and are not subtracted from a or p.
struct PoolView {
    std::int64_t allowance = 0;            ///< A
    std::int64_t allowance_remaining = 0;  ///< a (0 ≤ a ≤ A)
    std::int64_t purchased_total = 0;      ///< P
    std::int64_t purchased_remaining = 0;  ///< p (0 ≤ p ≤ P)
    std::int64_t pending = 0;              ///< reserved by requests in flight, not yet settled
    std::optional<std::chrono::system_clock::time_point> reset_time;  ///< end of the current window
    std::chrono::system_clock::time_point created_at;
    std::chrono::system_clock::time_point updated_at;

    /// `totalTokens` = A + P (saturating: never overflows).
    std::int64_t total() const { return saturating_add(allowance, purchased_total); }
    /// `remainingTokens` = a + p (saturating).
    std::int64_t remaining() const { return saturating_add(allowance_remaining, purchased_remaining); }
};

/// One row of token_outbox, written in the same transaction as the state change it describes.
struct OutboxRow {
    std::string id;                           ///< event id (UUID); unique
    std::string aggregate_type;               ///< e.g. "TokenUsage"
    std::optional<std::string> aggregate_id;  ///< e.g. a saga id
    std::string event_type;                   ///< e.g. "token.usage.v1"
    std::string payload;                      ///< JSON text (the event envelope)
    std::chrono::system_clock::time_point created_at;
};

/// Options of a QuotaService.
struct QuotaOptions {
    /// Length of an allowance window (`token.quota.window`); 0 or less = windows never reset.
    std::chrono::milliseconds window{std::chrono::hours(24)};
};

}  // namespace lt::token
