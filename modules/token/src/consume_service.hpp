#pragma once
/// ConsumeService: the consume path after validation and authorization —
/// reserve quota → rate limiter → provider call → settle (debit + usage event in one group-committed
/// transaction), refunding the bucket and the quota on every failure. With a shared ledger
/// (QuotaLedger::bucket_first) the bucket is asked before the reservation; answers keep their
/// precedence (402 before 429).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "limiter/rate_limiter.hpp"
#include "lt/bus/bus.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/metrics.hpp"
#include "token_metrics.hpp"
#include "provider_caller.hpp"
#include "quota/quota_ledger.hpp"
#include "tiers.hpp"
#include "token_config.hpp"

namespace lt::token {

struct ConsumeInput {
    std::string user_id;                 ///< canonical lower-case UUID
    std::optional<std::string> org_id;   ///< canonical lower-case UUID
    std::string provider;                ///< known, lower-case
    std::int64_t tokens = 0;             ///< 1..2^31-1
    boost::json::object chat_body;       ///< {"prompt": ...} for the provider
};

enum class Outcome { allowed, rate_limited, quota_insufficient, provider_failure, error };

struct ConsumeResult {
    Outcome outcome = Outcome::error;
    std::optional<BucketDecision> decision;  ///< when the bucket was evaluated
    BucketParams params;                     ///< the tier-scaled bucket it was evaluated with
    boost::json::object provider_response;   ///< when allowed
    std::string message;                     ///< when not allowed
};

/// A usage event row for the outbox: a token::UsageEvent (lt/token/token.hpp) encoded by its codec;
/// `extra` holds the chat completions' fields of UsagePayload (model, promptTokens, completionTokens,
/// completeness; other keys are not part of the event).
OutboxRow usage_event(const ConsumeInput& in, bool allowed, std::string_view outcome,
                      std::chrono::system_clock::time_point now, const boost::json::object* extra = nullptr);

/// The pool a consume spends from.
PoolKey pool_for(const ConsumeInput& in);

/// Thread-safe.
class ConsumeService {
public:
    ConsumeService(const TokenConfig& config, QuotaLedger& quota, RateLimiter& limiter, ProviderCaller& providers,
                   Clock& clock, MetricsRegistry* metrics);

    boost::asio::awaitable<ConsumeResult> consume(ConsumeInput in, Tier tier, bus::Context ctx);

    /// Counts an outcome in token_consume_total{provider,outcome} (no tokens: a refused request).
    void count(const std::string& provider, std::string_view outcome);
    /// The consume path's counters (also used by the chat completions API).
    TokenMetrics& metrics() { return metrics_; }

private:
    const TokenConfig& config_;
    QuotaLedger& quota_;
    RateLimiter& limiter_;
    ProviderCaller& providers_;
    Clock& clock_;
    TokenMetrics metrics_;
    /// 429 usage events queued for the group commit without waiting for it (bounded: beyond
    /// kMaxDetachedRecords a 429 waits for its commit, so the committer's queue cannot grow unbounded).
    std::shared_ptr<std::atomic<std::int64_t>> detached_ = std::make_shared<std::atomic<std::int64_t>>(0);
};

}  // namespace lt::token
