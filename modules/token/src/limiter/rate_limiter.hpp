#pragma once
/// The token module's rate limiter: per-key leaky bucket, token bucket or fixed window (seed §4.1 with
/// the fixes of ARCHITECTURE.md "Contract decisions"), evaluated as one atomic script of the
/// KeyValueStore port, so every check-and-update is atomic per key in memory and in Redis alike.
///
/// Fixed point. A bucket level is kept in micro-tokens (kScale = 10^6 per token) and the rate in
/// micro-tokens per millisecond (= milli-tokens per second, round(rate_per_second * 1000), at least 1
/// when the rate is positive), so leaking/refilling `elapsed_ms * rate` micro-tokens is exact and no
/// fraction of a token is ever dropped: over time the effective rate is the configured rate quantised
/// to 0.001 token/s (exact for 10/s, 20/s, 0.5/s, ...; a rate below 0.001/s counts as 0.001/s).
/// Time has millisecond resolution (`now` is floored to a millisecond; nothing is lost across calls).
///
/// Bounds. Redis runs the Lua with doubles, which are exact integers only below 2^53 (~9.007e15).
/// Capacity and request size are limited to kMaxTokens = 4e9 tokens, so every intermediate value
/// (capacity*kScale + tokens*kScale <= 8e15) stays exact; rates are clamped to kMaxRateUnits
/// (9e9 tokens/s) and windows to [1 s, kMaxWindowSeconds]. The native C++ and the Lua perform the
/// same integer operations and give identical results (checked by a test through lua5.4).
///
/// Clock. Wall time is passed in as `now`. A step backwards of at most kClockStepTolerance (threads
/// that read the clock in one order and reach the key in the other, refunds, small NTP steps, skew
/// between instances sharing Redis) counts as no elapsed time and the stored, later timestamp is
/// kept, so the same interval is never leaked twice. A larger step back (a reset wall clock) rebases
/// the stored timestamp (or window start) to `now`, again with no elapsed time, so the key does not
/// freeze until the clock catches up. Either way a clock going backwards never adds tokens.
///
/// Expiry. Every write renews the key's ttl: max(entry_ttl, time for the bucket to drain/refill
/// completely or for the window to end, + kClockStepTolerance), at most 31 days. Expiry is therefore
/// invisible: an expired key is exactly the state the bucket would have reached (empty leaky bucket,
/// full token bucket, finished window).

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "lt/core/result.hpp"
#include "lt/ports/key_value_store.hpp"

namespace lt::token {

/// Bucket algorithm of seed §4.1.
enum class Strategy { leaky_bucket, token_bucket, fixed_window };

/// "LEAKY_BUCKET" | "TOKEN_BUCKET" | "FIXED_WINDOW", case-insensitive; nullopt otherwise.
std::optional<Strategy> parse_strategy(std::string_view text);
/// The configuration spelling: "LEAKY_BUCKET", "TOKEN_BUCKET" or "FIXED_WINDOW".
std::string_view to_string(Strategy strategy);

/// Micro-tokens per token (fixed-point scale of bucket levels).
inline constexpr std::int64_t kScale = 1'000'000;
/// Largest capacity and largest single request, in tokens (keeps Lua doubles exact; see above).
inline constexpr std::int64_t kMaxTokens = 4'000'000'000;
/// Largest rate in micro-tokens per millisecond (9e9 tokens/s); faster rates are clamped.
inline constexpr std::int64_t kMaxRateUnits = 9'000'000'000'000;
/// Largest fixed window; longer windows are clamped (shorter than 1 s count as 1 s, as the original).
inline constexpr std::int64_t kMaxWindowSeconds = 30LL * 24 * 3600;
/// A backwards clock step up to this long keeps the later stored timestamp; longer steps rebase.
inline constexpr std::chrono::milliseconds kClockStepTolerance{60'000};
/// `wait_seconds` when the rate is <= 0 (the request can never fit), as the original.
inline constexpr std::int64_t kWaitForever = std::numeric_limits<std::int64_t>::max();

/// Limits of one bucket after tier scaling (seed §4.4).
struct BucketParams {
    std::int64_t capacity = 1000;    ///< C, tokens, 1..kMaxTokens
    double rate_per_second = 10.0;   ///< leak (leaky) or refill (token bucket) rate; unused by fixed window
    std::int64_t window_seconds = 60;  ///< fixed window length; unused by the buckets
    Strategy strategy = Strategy::leaky_bucket;
};

/// Outcome of one acquire, in whole tokens (the response fields of seed §2.2 T4).
struct BucketDecision {
    bool allowed = false;
    std::int64_t capacity = 0;   ///< C
    /// Leaky: ceil(level) (never reports more room than there is); token bucket: C - floor(available);
    /// fixed window: tokens counted in the window. Never above C.
    std::int64_t used = 0;
    std::int64_t remaining = 0;  ///< C - used
    /// 0 when allowed. Denied buckets: ceil(deficit / rate) seconds from the exact fixed-point deficit
    /// (finite even for a request larger than C, CONTRACT 16; kWaitForever when rate <= 0). Denied
    /// fixed window: ceil(seconds to the window's end), never 0 (the original truncated and could
    /// say 0).
    std::int64_t wait_seconds = 0;
};

/// Rate limiter over a KeyValueStore. Thread-safe (holds no mutable state). acquire() and refund() are
/// awaitable from any coroutine, I/O threads included: they never block the thread (the memory store
/// completes at once, a network store suspends the caller) and the caller resumes on its own executor.
class RateLimiter {
public:
    /// Default idle lifetime of a key (config token.bucket.entry-ttl).
    static constexpr std::chrono::milliseconds kDefaultEntryTtl{6LL * 3600 * 1000};

    /// `kv` must outlive the limiter. `entry_ttl` <= 0 means kDefaultEntryTtl.
    RateLimiter(ports::KeyValueStore& kv, std::chrono::milliseconds entry_ttl = kDefaultEntryTtl);

    /// Atomic check-and-update of the bucket at `key` (used verbatim: the caller namespaces it) for
    /// `tokens` (0..kMaxTokens; 0 only reads) at wall time `now`. A key last written by another
    /// strategy starts afresh. invalid_argument for out-of-range capacity/tokens or a NaN rate; store
    /// errors are passed through (Errc::unavailable when a network store cannot be reached). `key`
    /// and `p` must stay valid until the call completes.
    boost::asio::awaitable<Result<BucketDecision>> acquire(std::string_view key, const BucketParams& p,
                                                           std::int64_t tokens,
                                                           std::chrono::system_clock::time_point now);

    /// Gives back `tokens` admitted earlier (the provider failed). Leaky: level -= tokens (not below
    /// 0); token bucket: available += tokens (not above C); fixed window: count -= tokens (not below
    /// 0) only while the window that admitted them is still the current one — it is identified by
    /// `acquired_at` (the `now` given to acquire; defaults to `now`). Leaking/refilling up to `now`
    /// happens first. A missing key is left missing. Atomic. `key` and `p` must stay valid until the
    /// call completes.
    boost::asio::awaitable<Result<void>> refund(
        std::string_view key, const BucketParams& p, std::int64_t tokens, std::chrono::system_clock::time_point now,
        std::optional<std::chrono::system_clock::time_point> acquired_at = std::nullopt);

    /// The acquire script of `s` (for tests and the Redis adapter). ARGV: now_ms, capacity, rate
    /// (micro-tokens/ms; window ms for fixed window), tokens, [ttl ms appended by the store]. Reply:
    /// {allowed 0|1, used, remaining, wait_seconds (-1 = forever)}. State: f0 level/available in
    /// micro-tokens (fixed window: count in tokens), f1 last update ms (window start ms), f2 0, f3 the
    /// strategy tag 1|2|3. Arguments must be within the bounds above (acquire() guarantees it).
    static const ports::AtomicScript& script(Strategy s);
    /// The refund script of `s`. ARGV as script(s) plus, for fixed window, acquired_at ms before the
    /// ttl. Reply: {applied 0|1, used, remaining}. Never creates a key.
    static const ports::AtomicScript& refund_script(Strategy s);

    /// The ttl written with the key for `p` (see the header comment).
    std::chrono::milliseconds ttl_for(const BucketParams& p) const;

private:
    ports::KeyValueStore& kv_;
    std::chrono::milliseconds entry_ttl_;
};

}  // namespace lt::token
