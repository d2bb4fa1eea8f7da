#pragma once
/// The consume path's counters with their series resolved ahead of the request:
///   token_consume_total{provider,outcome}                 requests (the original's metric)
///   token_consumed_tokens_total{provider,model,outcome}   tokens asked for, by outcome (consume and
///                                                         chat completions: see record_tokens)
/// A request finds its (provider, model) row by comparing views in a short list under a shared lock
/// (no string is built, nothing allocated); outcomes are an array index. Models beyond kMaxModels
/// distinct ones per process share the label value "other", so callers cannot grow the metrics.

#include <array>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "lt/core/metrics.hpp"

namespace lt::token {

/// Outcome label values, in index order.
inline constexpr std::array<std::string_view, 7> kConsumeOutcomes{
    "allowed", "rate_limited", "quota_insufficient", "provider_failure", "error", "invalid", "attempt"};

/// Thread-safe.
class TokenMetrics {
public:
    static constexpr std::size_t kMaxModels = 64;

    /// `metrics` null: every call is a no-op.
    explicit TokenMetrics(MetricsRegistry* metrics);

    /// Counts one request with `outcome` (a kConsumeOutcomes value; others count as "error") for
    /// `provider` and `model` ("" for the plain consume API: label "default"), and its `tokens`.
    void record(std::string_view provider, std::string_view model, std::string_view outcome, std::int64_t tokens);
    /// Counts `tokens` only (token_consumed_tokens_total), not a consume request: the chat path
    /// (ChatMetering), whose calls are not consume requests. Same outcome and model rules as record().
    void record_tokens(std::string_view provider, std::string_view model, std::string_view outcome,
                       std::int64_t tokens);

private:
    struct Row {
        std::string provider, model;
        std::array<Counter*, kConsumeOutcomes.size()> requests{};
        std::array<Counter*, kConsumeOutcomes.size()> tokens{};
    };
    Row& row(std::string_view provider, std::string_view model);

    CounterFamily* requests_ = nullptr;
    CounterFamily* tokens_ = nullptr;
    std::shared_mutex mutex_;  ///< guards rows_ (the list; rows never move: unique_ptr)
    std::vector<std::unique_ptr<Row>> rows_;
    std::size_t models_ = 0;
};

}  // namespace lt::token
