#include "chat_metering.hpp"

#include <algorithm>

#include <boost/json.hpp>

namespace asio = boost::asio;

namespace lt::token {

namespace {
std::size_t text_bytes(const boost::json::value& v) {
    if (v.is_string()) return v.as_string().size();
    if (v.is_null()) return 0;
    if (v.is_array()) {
        std::size_t n = 0;
        for (const auto& part : v.as_array()) {
            const auto* o = part.if_object();
            const auto* text = o ? o->if_contains("text") : nullptr;
            n += text && text->is_string() ? text->as_string().size() : boost::json::serialize(part).size();
        }
        return n;
    }
    return boost::json::serialize(v).size();
}
}  // namespace

std::int64_t prompt_token_bound(const boost::json::array& messages) {
    std::int64_t total = 3;
    for (const auto& m : messages) {
        total += 4;
        const auto* o = m.if_object();
        if (!o) continue;
        for (auto key : {"role", "name", "content"}) {
            if (auto* v = o->if_contains(key)) total += static_cast<std::int64_t>(text_bytes(*v));
        }
    }
    return total;
}

std::int64_t prompt_token_estimate(const boost::json::array& messages) {
    std::int64_t total = 3;
    for (const auto& m : messages) {
        const auto* o = m.if_object();
        std::size_t bytes = 0;
        if (o) {
            for (auto key : {"role", "name", "content"}) {
                if (auto* v = o->if_contains(key)) bytes += text_bytes(*v);
            }
        }
        total += static_cast<std::int64_t>((bytes + 3) / 4) + 3;
    }
    return total;
}

std::string_view to_string(Completeness c) {
    switch (c) {
        case Completeness::complete: return "complete";
        case Completeness::cut_off: return "cut_off";
        case Completeness::client_disconnected: return "client_disconnected";
        case Completeness::upstream_error: return "upstream_error";
    }
    return "complete";
}

ChatMetering::ChatMetering(const TokenConfig& config, QuotaLedger& quota, RateLimiter& limiter, Clock& clock,
                           Logger log, TokenMetrics* metrics)
    : config_(config), quota_(quota), limiter_(limiter), clock_(clock), log_(std::move(log)), metrics_(metrics) {}

asio::awaitable<tl::expected<ChatAdmission, ChatRefusal>> ChatMetering::admit(ConsumeInput who, Tier tier,
                                                                               std::string model,
                                                                               std::int64_t prompt_bound,
                                                                               std::int64_t max_completion) {
    ChatAdmission a;
    auto now = clock_.now();
    const std::int64_t min_total = prompt_bound + 1;
    const std::int64_t max_total = std::min<std::int64_t>(prompt_bound + std::max<std::int64_t>(1, max_completion),
                                                          kMaxTokens);
    const auto live = config_.live();
    a.params = scale(live->bucket, tier);
    ChatRefusal refusal;
    refusal.params = a.params;
    if (min_total > kMaxTokens) {
        refusal.status = 402;
        refusal.message = "insufficient token quota";
        if (metrics_) metrics_->record_tokens(who.provider, model, "quota_insufficient", max_total);
        co_return tl::make_unexpected(std::move(refusal));
    }
    std::int64_t want = max_total;
    if (live->quota_enforcement) {
        std::optional<std::int64_t> cap = who.org_id ? std::nullopt : tier.quota_cap;
        auto op = quota_.reserve_up_to(pool_for(who), min_total, max_total, cap, now);
        auto r = co_await std::move(op);
        if (!r) {
            refusal.status = r.error().code == Errc::payment_required ? 402 : 503;
            refusal.message = r.error().code == Errc::payment_required ? "insufficient token quota"
                                                                        : "token service unavailable";
            if (metrics_) {
                metrics_->record_tokens(who.provider, model, refusal.status == 402 ? "quota_insufficient" : "error",
                                        max_total);
            }
            co_return tl::make_unexpected(std::move(refusal));
        }
        want = r->tokens();
        a.reservation = std::move(*r);
    }

    a.bucket_key = "token-bucket:" + who.user_id + ":" + who.provider;
    auto acquire = limiter_.acquire(a.bucket_key, a.params, want, now);
    auto decision = co_await std::move(acquire);
    if (decision && !decision->allowed && decision->remaining >= min_total && decision->remaining < want) {
        // Lower the call to what the bucket can still give (the completion limit shrinks with it).
        want = decision->remaining;
        auto retry = limiter_.acquire(a.bucket_key, a.params, want, now);
        decision = co_await std::move(retry);
    }
    if (!decision || !decision->allowed) {
        if (a.reservation) quota_.release(std::move(*a.reservation));
        if (!decision) {
            refusal.message = "token service unavailable";
        } else {
            refusal.status = 429;
            refusal.message = "rate limit exceeded";
            refusal.decision = *decision;
            who.tokens = want;
            boost::json::object extra{{"model", model}, {"promptTokens", 0}, {"completionTokens", 0}};
            auto op = quota_.record({usage_event(who, false, "rate_limited", now, &extra)});
            co_await std::move(op);
        }
        if (metrics_) metrics_->record_tokens(who.provider, model, decision ? "rate_limited" : "error", want);
        co_return tl::make_unexpected(std::move(refusal));
    }
    a.decision = *decision;
    a.acquired_at = now;
    a.held = want;
    a.prompt_bound = prompt_bound;
    a.who = std::move(who);
    co_return a;
}

asio::awaitable<Result<std::int64_t>> ChatMetering::settle(ChatAdmission a, ChatOutcome o) {
    auto now = clock_.now();
    std::int64_t reported = std::max<std::int64_t>(0, o.prompt_tokens) + std::max<std::int64_t>(0, o.completion_tokens);
    std::int64_t charge = o.provider_failed ? 0 : std::min(reported, a.held);
    if (charge < reported && !o.provider_failed) {
        log_->warn("provider reported more tokens than reserved provider={} reported={} reserved={}", a.who.provider,
                   reported, a.held);
    }
    a.who.tokens = charge;
    boost::json::object extra{{"model", o.model},
                              {"promptTokens", o.provider_failed ? 0 : o.prompt_tokens},
                              {"completionTokens", o.provider_failed ? 0 : o.completion_tokens},
                              {"completeness", to_string(o.completeness)}};
    std::vector<OutboxRow> rows{o.provider_failed ? usage_event(a.who, false, "provider_failure", now, &extra)
                                                  : usage_event(a.who, true, "allowed", now, &extra)};
    if (a.held > charge) {
        auto refund = limiter_.refund(a.bucket_key, a.params, a.held - charge, now, a.acquired_at);
        (void)co_await std::move(refund);
    }
    Result<void> settled = ok();
    if (a.reservation && charge > 0) {
        auto op = quota_.settle_partial(std::move(*a.reservation), charge, std::move(rows), now);
        settled = co_await std::move(op);
    } else {
        if (a.reservation) quota_.release(std::move(*a.reservation));
        auto op = quota_.record(std::move(rows));
        settled = co_await std::move(op);
    }
    if (!settled) {
        if (charge > 0) {
            auto refund = limiter_.refund(a.bucket_key, a.params, charge, clock_.now(), a.acquired_at);
            (void)co_await std::move(refund);
        }
        if (metrics_) metrics_->record_tokens(a.who.provider, o.model, "error", charge);
        co_return fail(settled.error());
    }
    if (metrics_) {
        metrics_->record_tokens(a.who.provider, o.model, o.provider_failed ? "provider_failure" : "allowed",
                                o.provider_failed ? a.held : charge);
    }
    co_return charge;
}

}  // namespace lt::token
