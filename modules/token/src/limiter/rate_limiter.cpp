#include "limiter/rate_limiter.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <span>
#include <string>

#include "limiter/bucket_math.hpp"

namespace lt::token {

namespace {

using std::chrono::milliseconds;

/// Longest ttl the limiter extends a key to (beyond entry_ttl) for slow buckets and long windows.
constexpr std::int64_t kMaxTtlMs = 31LL * 24 * 3600 * 1000;

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const char x = (a[i] >= 'a' && a[i] <= 'z') ? static_cast<char>(a[i] - 'a' + 'A') : a[i];
        if (x != b[i]) return false;
    }
    return true;
}

/// Milliseconds since the epoch, floored.
std::int64_t epoch_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::floor<milliseconds>(t).time_since_epoch().count();
}

/// Rate in micro-tokens per millisecond: 0 when rate <= 0, else round(rate * 1000) in [1, max].
std::int64_t rate_units(double rate_per_second) {
    if (!(rate_per_second > 0.0)) return 0;
    const double units = rate_per_second * 1000.0;
    if (units >= static_cast<double>(kMaxRateUnits)) return kMaxRateUnits;
    return std::max<std::int64_t>(std::llround(units), 1);
}

std::int64_t window_ms(std::int64_t window_seconds) {
    return std::clamp<std::int64_t>(window_seconds, 1, kMaxWindowSeconds) * 1000;
}

/// The third script argument: rate units for the buckets, window length for the fixed window.
std::int64_t third_arg(const BucketParams& p) {
    return p.strategy == Strategy::fixed_window ? window_ms(p.window_seconds) : rate_units(p.rate_per_second);
}

Result<void> validate(const BucketParams& p, std::int64_t tokens) {
    if (p.capacity < 1 || p.capacity > kMaxTokens) {
        return fail(Errc::invalid_argument,
                    "bucket capacity must be between 1 and " + std::to_string(kMaxTokens));
    }
    if (tokens < 0 || tokens > kMaxTokens) {
        return fail(Errc::invalid_argument, "tokens must be between 0 and " + std::to_string(kMaxTokens));
    }
    if (std::isnan(p.rate_per_second)) {
        return fail(Errc::invalid_argument, "bucket rate is not a number");
    }
    return ok();
}

}  // namespace

std::optional<Strategy> parse_strategy(std::string_view text) {
    for (Strategy s : {Strategy::leaky_bucket, Strategy::token_bucket, Strategy::fixed_window}) {
        if (iequals(text, to_string(s))) return s;
    }
    return std::nullopt;
}

std::string_view to_string(Strategy strategy) {
    switch (strategy) {
        case Strategy::leaky_bucket: return "LEAKY_BUCKET";
        case Strategy::token_bucket: return "TOKEN_BUCKET";
        case Strategy::fixed_window: return "FIXED_WINDOW";
    }
    return "LEAKY_BUCKET";
}

RateLimiter::RateLimiter(ports::KeyValueStore& kv, milliseconds entry_ttl)
    : kv_(kv), entry_ttl_(entry_ttl.count() > 0 ? entry_ttl : kDefaultEntryTtl) {}

milliseconds RateLimiter::ttl_for(const BucketParams& p) const {
    std::int64_t needed = 0;
    if (p.strategy == Strategy::fixed_window) {
        needed = window_ms(p.window_seconds);
    } else if (const std::int64_t rate = rate_units(p.rate_per_second); rate > 0) {
        const std::int64_t capacity = std::clamp<std::int64_t>(p.capacity, 1, kMaxTokens);
        needed = detail::ceil_div(capacity * kScale, rate);
    }
    needed = std::min(needed + kClockStepTolerance.count(), kMaxTtlMs);
    return std::max(entry_ttl_, milliseconds(needed));
}

boost::asio::awaitable<Result<BucketDecision>> RateLimiter::acquire(std::string_view key, const BucketParams& p,
                                                                    std::int64_t tokens,
                                                                    std::chrono::system_clock::time_point now) {
    if (auto valid = validate(p, tokens); !valid) co_return fail(std::move(valid.error()));
    const std::array<std::int64_t, 4> args = {epoch_ms(now), p.capacity, third_arg(p), tokens};
    auto op = kv_.atomic_update(key, script(p.strategy), args, ttl_for(p));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(std::move(reply.error()));
    const auto& r = *reply;
    if (r.size() != 4) {
        co_return fail(Errc::internal, "rate limiter script returned " + std::to_string(r.size()) + " values");
    }
    BucketDecision decision;
    decision.allowed = r[0] == 1;
    decision.capacity = p.capacity;
    decision.used = r[1];
    decision.remaining = r[2];
    decision.wait_seconds = r[3] < 0 ? kWaitForever : r[3];
    co_return decision;
}

boost::asio::awaitable<Result<void>> RateLimiter::refund(
    std::string_view key, const BucketParams& p, std::int64_t tokens, std::chrono::system_clock::time_point now,
    std::optional<std::chrono::system_clock::time_point> acquired_at) {
    if (auto valid = validate(p, tokens); !valid) co_return valid;
    const std::int64_t now_ms = epoch_ms(now);
    const std::array<std::int64_t, 5> args = {now_ms, p.capacity, third_arg(p), tokens,
                                              acquired_at ? epoch_ms(*acquired_at) : now_ms};
    // The buckets take four arguments; the fixed window also the acquire time.
    const std::size_t count = p.strategy == Strategy::fixed_window ? 5 : 4;
    auto op = kv_.atomic_update(key, refund_script(p.strategy), std::span(args.data(), count), ttl_for(p));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(std::move(reply.error()));
    co_return ok();
}

}  // namespace lt::token
