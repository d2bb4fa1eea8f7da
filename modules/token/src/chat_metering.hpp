#pragma once
/// ChatMetering: the exact metering of OpenAI-style chat completions (CONTRACT 39) on the consume
/// path's quota reservation and rate limiter. admit() reserves an upper bound — a prompt estimate
/// that can only over-count plus the completion limit, lowered to what both the pool and the bucket
/// can give — and settle() charges exactly the reported prompt + completion tokens (never more than
/// the reservation), returns the rest to the pool and the bucket, and records the usage event.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <tl/expected.hpp>

#include "consume_service.hpp"
#include "limiter/rate_limiter.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/log.hpp"
#include "quota/quota_ledger.hpp"
#include "tiers.hpp"
#include "token_config.hpp"

namespace lt::token {

/// Upper bound of the prompt tokens of `messages` for any tokenizer: per message the bytes of its
/// role, name and content text + 4, plus 3 (a token is at least one byte; 4 and 3 cover OpenAI's
/// per-message and priming overhead).
std::int64_t prompt_token_bound(const boost::json::array& messages);

/// A typical-tokenizer estimate of the prompt tokens of `messages` (per message ⌈bytes of role and
/// content ÷ 4⌉ + 3, plus 3): charged for the prompt when an upstream stream ends without reporting
/// usage (it broke off, or the gateway cut it at the reservation). Never above prompt_token_bound.
std::int64_t prompt_token_estimate(const boost::json::array& messages);

/// How an exchange ended (usage event field `completeness`).
enum class Completeness { complete, cut_off, client_disconnected, upstream_error };
std::string_view to_string(Completeness c);

/// An admitted call: what is held in the pool and the bucket until settle().
struct ChatAdmission {
    ConsumeInput who;                        ///< user, org, provider (tokens/chat_body unused)
    std::optional<Reservation> reservation;  ///< absent when quota enforcement is off
    std::string bucket_key;
    BucketParams params;
    BucketDecision decision;                 ///< of the admitting acquire
    std::chrono::system_clock::time_point acquired_at;
    std::int64_t held = 0;                   ///< tokens held in the bucket (≤ the reservation's)
    std::int64_t prompt_bound = 0;           ///< prompt_token_bound of the request
    /// The completion limit to send upstream: held − prompt_bound (≥ 1).
    std::int64_t completion_limit() const { return held - prompt_bound; }
};

/// Why a call was refused before it started.
struct ChatRefusal {
    int status = 503;                         ///< 402, 429 or 503
    std::string message;
    std::optional<BucketDecision> decision;   ///< for 429: the bucket state (items 16-17 headers)
    BucketParams params;
};

/// What the exchange produced, for settle().
struct ChatOutcome {
    std::string model;                 ///< the model the caller asked for
    std::int64_t prompt_tokens = 0;    ///< as reported by the provider
    std::int64_t completion_tokens = 0;
    Completeness completeness = Completeness::complete;
    bool provider_failed = false;      ///< nothing usable came back: charge nothing
};

/// Thread-safe (holds no mutable state of its own).
class ChatMetering {
public:
    /// `metrics` (may be null) receives token_consumed_tokens_total{provider,model,outcome}: a refusal
    /// counts the tokens asked for (rate_limited, quota_insufficient, error), settle() the tokens
    /// charged (allowed; error when the store failed) or held (provider_failure).
    ChatMetering(const TokenConfig& config, QuotaLedger& quota, RateLimiter& limiter, Clock& clock, Logger log,
                 TokenMetrics* metrics = nullptr);

    /// Admits a call of at most `prompt_bound` + `max_completion` tokens, or as many as fit when at
    /// least `prompt_bound` + 1 do; else a refusal (402 pool, 429 bucket, 503 store). A 429 records a
    /// `rate_limited` usage event for `model` (as consume does); a 402 records none. Any executor.
    boost::asio::awaitable<tl::expected<ChatAdmission, ChatRefusal>> admit(ConsumeInput who, Tier tier,
                                                                            std::string model,
                                                                            std::int64_t prompt_bound,
                                                                            std::int64_t max_completion);

    /// Charges min(prompt + completion, held) (0 when the provider failed), gives the rest back to the
    /// pool and the bucket, and commits the usage event with the pool debit. Returns the tokens
    /// charged, or the store's error (then nothing was debited and the bucket was refunded).
    boost::asio::awaitable<Result<std::int64_t>> settle(ChatAdmission admission, ChatOutcome outcome);

private:
    const TokenConfig& config_;
    QuotaLedger& quota_;
    RateLimiter& limiter_;
    Clock& clock_;
    Logger log_;
    TokenMetrics* metrics_;
};

}  // namespace lt::token
