#include "token_metrics.hpp"

#include <algorithm>
#include <mutex>

namespace lt::token {

TokenMetrics::TokenMetrics(MetricsRegistry* metrics) {
    if (!metrics) return;
    requests_ = &metrics->counter("token_consume_total", "Consume requests by provider and outcome",
                                  {"provider", "outcome"});
    tokens_ = &metrics->counter("token_consumed_tokens_total",
                                "Tokens asked for by consume and chat requests, by provider, model and outcome",
                                {"provider", "model", "outcome"});
}

TokenMetrics::Row& TokenMetrics::row(std::string_view provider, std::string_view model) {
    if (model.empty()) model = "default";
    {
        std::shared_lock lock(mutex_);
        for (const auto& r : rows_) {
            if (r->provider == provider && r->model == model) return *r;
        }
    }
    std::unique_lock lock(mutex_);
    for (const auto& r : rows_) {
        if (r->provider == provider && r->model == model) return *r;
    }
    std::string model_label(model);
    if (model != "default" && models_ >= kMaxModels) {
        model_label = "other";
        for (const auto& r : rows_) {
            if (r->provider == provider && r->model == model_label) return *r;
        }
    } else if (model != "default") {
        ++models_;
    }
    auto r = std::make_unique<Row>();
    r->provider = std::string(provider);
    r->model = model_label;
    for (std::size_t i = 0; i < kConsumeOutcomes.size(); ++i) {
        r->requests[i] = &requests_->labels({provider, kConsumeOutcomes[i]});
        r->tokens[i] = &tokens_->labels({provider, std::string_view(model_label), kConsumeOutcomes[i]});
    }
    rows_.push_back(std::move(r));
    return *rows_.back();
}

void TokenMetrics::record(std::string_view provider, std::string_view model, std::string_view outcome,
                          std::int64_t tokens) {
    if (!requests_) return;
    auto it = std::find(kConsumeOutcomes.begin(), kConsumeOutcomes.end(), outcome);
    const auto i = static_cast<std::size_t>(it == kConsumeOutcomes.end() ? 4 : it - kConsumeOutcomes.begin());
    auto& r = row(provider, model);
    r.requests[i]->inc();
    if (tokens > 0) r.tokens[i]->inc(static_cast<double>(tokens));
}

void TokenMetrics::record_tokens(std::string_view provider, std::string_view model, std::string_view outcome,
                                 std::int64_t tokens) {
    if (!tokens_) return;
    auto it = std::find(kConsumeOutcomes.begin(), kConsumeOutcomes.end(), outcome);
    const auto i = static_cast<std::size_t>(it == kConsumeOutcomes.end() ? 4 : it - kConsumeOutcomes.begin());
    auto& r = row(provider, model);
    if (tokens > 0) r.tokens[i]->inc(static_cast<double>(tokens));
}

}  // namespace lt::token
