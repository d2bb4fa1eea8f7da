#include "consume_service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>

#include "lt/core/time.hpp"
#include "outbox/outbox_relay.hpp"
#include "quota/event_id.hpp"
#include "lt/token/token.hpp"

namespace asio = boost::asio;

namespace lt::token {

OutboxRow usage_event(const ConsumeInput& in, bool allowed, std::string_view outcome,
                      std::chrono::system_clock::time_point now, const boost::json::object* extra) {
    OutboxRow row;
    row.id = new_event_id();  // time-ordered: outbox inserts stay at the end of the index
    row.aggregate_type = std::string(kUsageAggregateType);
    row.event_type = std::string(kUsage.name);
    row.created_at = now;
    UsageEvent event{row.id, row.event_type, format_rfc3339(now),
                     UsagePayload{in.user_id, in.org_id, in.provider, in.tokens, allowed, std::string(outcome)}};
    if (extra) {
        auto& p = event.payload;
        if (const auto* v = extra->if_contains("model"); v && v->is_string()) p.model = std::string(v->as_string());
        if (const auto* v = extra->if_contains("promptTokens"); v && v->is_int64()) p.prompt_tokens = v->as_int64();
        if (const auto* v = extra->if_contains("completionTokens"); v && v->is_int64()) p.completion_tokens = v->as_int64();
        if (const auto* v = extra->if_contains("completeness"); v && v->is_string()) {
            p.completeness = std::string(v->as_string());
        }
    }
    row.payload = boost::json::serialize(boost::json::value_from(event));  // the outbox: where the event leaves
    return row;
}

PoolKey pool_for(const ConsumeInput& in) {
    if (in.org_id) return PoolKey{OwnerType::org, *in.org_id, in.provider};
    return PoolKey{OwnerType::user, in.user_id, in.provider};
}

ConsumeService::ConsumeService(const TokenConfig& config, QuotaLedger& quota, RateLimiter& limiter,
                               ProviderCaller& providers, Clock& clock, MetricsRegistry* metrics)
    : config_(config), quota_(quota), limiter_(limiter), providers_(providers), clock_(clock), metrics_(metrics) {}

void ConsumeService::count(const std::string& provider, std::string_view outcome) {
    metrics_.record(provider, {}, outcome, 0);
}

asio::awaitable<ConsumeResult> ConsumeService::consume(ConsumeInput in, Tier tier, bus::Context ctx) {
    ConsumeResult out;
    auto now = clock_.now();
    auto key = pool_for(in);
    std::optional<std::int64_t> cap = in.org_id ? std::nullopt : tier.quota_cap;

    std::optional<Reservation> reservation;
    const auto live = config_.live();
    // Shared ledger (production profile): the bucket is asked first, so a 429 costs no reservation
    // (see QuotaLedger::bucket_first). 402 keeps its precedence: a refused reservation refunds the
    // bucket and answers without rate-limit headers; a refused bucket answers 402 when the pool could
    // not have covered the request. The process ledger keeps the original order (reserve first).
    const bool bucket_first = live->quota_enforcement && quota_.bucket_first();
    if (live->quota_enforcement && !bucket_first) {
        auto op = quota_.reserve(key, in.tokens, cap, now);
        auto r = co_await std::move(op);
        if (!r) {
            metrics_.record(in.provider, {}, r.error().code == Errc::payment_required ? "quota_insufficient" : "error", in.tokens);
            out.outcome = r.error().code == Errc::payment_required ? Outcome::quota_insufficient : Outcome::error;
            out.message = r.error().message;
            co_return out;
        }
        reservation = std::move(*r);
    }

    const auto params = out.params = scale(live->bucket, tier);
    const std::string bucket_key = "token-bucket:" + in.user_id + ":" + in.provider;
    auto acquire = limiter_.acquire(bucket_key, params, in.tokens, now);
    auto decision = co_await std::move(acquire);
    if (!decision) {
        if (reservation) quota_.release(std::move(*reservation));
        metrics_.record(in.provider, {}, "error", in.tokens);
        out.message = decision.error().message;
        co_return out;
    }
    out.decision = *decision;
    if (!decision->allowed) {
        if (reservation) quota_.release(std::move(*reservation));
        if (bucket_first) {
            auto op = quota_.record_if_covered(key, in.tokens, cap, now, {usage_event(in, false, "rate_limited", now)});
            auto covered = co_await std::move(op);
            if (!covered) {
                out.decision.reset();  // 402 / 503: as if the bucket had not been evaluated
                const bool insufficient = covered.error().code == Errc::payment_required;
                metrics_.record(in.provider, {}, insufficient ? "quota_insufficient" : "error", in.tokens);
                out.outcome = insufficient ? Outcome::quota_insufficient : Outcome::error;
                out.message = covered.error().message;
                co_return out;
            }
        }
        metrics_.record(in.provider, {}, "rate_limited", in.tokens);
        out.outcome = Outcome::rate_limited;
        out.message = "rate limit exceeded";
        if (bucket_first) co_return out;  // its event is already committed with the coverage check
        // Nothing was admitted or debited: the 429 does not wait for its usage event's commit (it
        // joins the next group commit; a crash before it loses an analytics event, never a token).
        constexpr std::int64_t kMaxDetachedRecords = 1024;
        auto op = quota_.record({usage_event(in, false, "rate_limited", now)});
        if (detached_->fetch_add(1, std::memory_order_relaxed) >= kMaxDetachedRecords) {
            detached_->fetch_sub(1, std::memory_order_relaxed);
            co_await std::move(op);  // the committer is behind: wait, as every 429 did before
            co_return out;
        }
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(ex, std::move(op), [counter = detached_](std::exception_ptr, Result<void>) {
            counter->fetch_sub(1, std::memory_order_relaxed);
        });
        co_return out;
    }

    if (bucket_first) {
        auto op = quota_.reserve(key, in.tokens, cap, now);
        auto r = co_await std::move(op);
        if (!r) {
            // Give the bucket back: a refused reservation leaves no trace of the bucket's evaluation.
            auto refund = limiter_.refund(bucket_key, params, in.tokens, clock_.now(), now);
            (void)co_await std::move(refund);
            out.decision.reset();
            const bool insufficient = r.error().code == Errc::payment_required;
            metrics_.record(in.provider, {}, insufficient ? "quota_insufficient" : "error", in.tokens);
            out.outcome = insufficient ? Outcome::quota_insufficient : Outcome::error;
            out.message = r.error().message;
            co_return out;
        }
        reservation = std::move(*r);
    }

    auto call = providers_.call(in.provider, in.chat_body, ctx);
    auto reply = co_await std::move(call);
    if (!reply) {
        auto refund = limiter_.refund(bucket_key, params, in.tokens, clock_.now(), now);
        (void)co_await std::move(refund);
        if (reservation) quota_.release(std::move(*reservation));
        metrics_.record(in.provider, {}, "provider_failure", in.tokens);
        out.outcome = Outcome::provider_failure;
        out.message = "provider call failed";
        auto op = quota_.record({usage_event(in, false, "provider_failure", now)});
        co_await std::move(op);
        co_return out;
    }

    std::vector<OutboxRow> rows{usage_event(in, true, "allowed", now)};
    Result<void> settled = ok();
    if (reservation) {
        auto op = quota_.settle(std::move(*reservation), std::move(rows), now);
        settled = co_await std::move(op);
    } else {
        auto op = quota_.record(std::move(rows));
        settled = co_await std::move(op);
    }
    if (!settled) {
        // Nothing was debited (the transaction failed): give the bucket back too.
        auto refund = limiter_.refund(bucket_key, params, in.tokens, clock_.now(), now);
        (void)co_await std::move(refund);
        metrics_.record(in.provider, {}, "error", in.tokens);
        out.message = "could not record the usage";
        co_return out;
    }
    metrics_.record(in.provider, {}, "allowed", in.tokens);
    out.outcome = Outcome::allowed;
    out.provider_response = std::move(*reply);
    co_return out;
}

}  // namespace lt::token
