// Handlers of the status and consume endpoints, plus the helpers shared with quota_http.cpp.
#include "token_http.hpp"

#include <cmath>

#include <boost/json.hpp>

#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "lt/http/authz.hpp"
#include "lt/http/errors.hpp"
#include "lt/providers/providers.hpp"
#include "tiers.hpp"
#include "token_module.hpp"

namespace asio = boost::asio;

namespace lt::token {

http::Response bad_request(const http::Request& req, std::string_view message) {
    return http::error_response(400, message, req.path);
}

http::Response forbidden(const http::Request& req) { return http::error_response(403, "forbidden", req.path); }

std::string trimmed_field(const boost::json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v || v->is_null() || v->is_object() || v->is_array()) return std::string();
    if (v->is_string()) return trim(v->as_string());
    return boost::json::serialize(*v);  // a number or boolean is read as its text, as the original does
}

Result<std::int64_t> parse_tokens(const boost::json::object& o) {
    auto* v = o.if_contains("tokens");
    if (!v || v->is_null()) return fail(Errc::invalid_argument, "tokens must be positive");
    if (v->is_int64()) {
        auto n = v->as_int64();
        if (n <= 0) return fail(Errc::invalid_argument, "tokens must be positive");
        if (n > 2147483647) return fail(Errc::invalid_argument, "tokens too large");
        return n;
    }
    if (v->is_uint64()) return fail(Errc::invalid_argument, "tokens too large");
    if (v->is_double() && v->as_double() <= 0) return fail(Errc::invalid_argument, "tokens must be positive");
    // An integer literal beyond 64 bits arrives as a double: it is too large, not a fraction.
    if (v->is_double() && v->as_double() > 2147483647.0 && std::floor(v->as_double()) == v->as_double()) {
        return fail(Errc::invalid_argument, "tokens too large");
    }
    return fail(Errc::invalid_argument, "tokens must be an integer");
}

void add_rate_headers(http::Response& res, const BucketDecision& d, const BucketParams& p) {
    res.set_header("X-RateLimit-Limit", std::to_string(d.capacity));
    res.set_header("X-RateLimit-Remaining", std::to_string(d.remaining));
    res.set_header("X-RateLimit-Used", std::to_string(d.used));
    res.set_header("X-RateLimit-Reset", std::to_string(d.wait_seconds));
    std::int64_t window = p.strategy == Strategy::fixed_window
                              ? p.window_seconds
                              : static_cast<std::int64_t>(std::ceil(static_cast<double>(d.capacity) / p.rate_per_second));
    // CONTRACT 17: the consume path's bucket is "bucket" whatever its strategy ("edge" is the gateway's).
    const std::string policy = "\"bucket\"";
    res.set_header("RateLimit-Policy", policy + ";q=" + std::to_string(d.capacity) + ";w=" + std::to_string(window));
    res.set_header("RateLimit", policy + ";r=" + std::to_string(d.remaining) + ";t=" + std::to_string(d.wait_seconds));
}

boost::json::object quota_json(const PoolKey& key, const PoolView& v) {
    boost::json::object o;
    o[key.type == OwnerType::org ? "orgId" : "userId"] = key.owner_id;
    o["provider"] = key.provider;
    o["totalTokens"] = v.total();
    o["remainingTokens"] = v.remaining();
    o["purchasedTokens"] = v.purchased_remaining;
    o["resetTime"] = v.reset_time ? boost::json::value(format_rfc3339(*v.reset_time)) : boost::json::value(nullptr);
    o["updatedAt"] = format_rfc3339(v.updated_at);
    return o;
}

asio::awaitable<http::Response> TokenModule::status(http::Request req) {
    (void)req;
    co_return http::Response::json(200, boost::json::object{{"service", "token-service"},
                                                            {"status", "ok"},
                                                            {"timestamp", format_rfc3339(ctx_.clock->now())}});
}

asio::awaitable<http::Response> TokenModule::consume(http::Request req) {
    auto body = parse_json_object(req.body);
    if (!body) {
        consume_->count("unknown", "invalid");
        co_return bad_request(req, body.error().message);
    }
    auto user_id = trimmed_field(*body, "userId");
    auto provider = to_lower(trimmed_field(*body, "provider"));
    auto org_raw = trimmed_field(*body, "orgId");
    auto invalid = [&](std::string_view msg) {
        consume_->count(providers::is_known_provider(provider) ? provider : "unknown", "invalid");
        return bad_request(req, msg);
    };
    auto* org_value = body->if_contains("orgId");
    bool org_not_string = org_value && !org_value->is_null() && !org_value->is_string();
    if (user_id.empty()) co_return invalid("userId is required");
    if (provider.empty()) co_return invalid("provider is required");
    auto tokens = parse_tokens(*body);
    if (!tokens) co_return invalid(tokens.error().message);
    auto uid = normalize_uuid(user_id);
    if (!uid) co_return invalid("invalid userId");
    std::optional<std::string> org;
    if (org_not_string) co_return invalid("invalid orgId");
    if (!org_raw.empty()) {
        org = normalize_uuid(org_raw);
        if (!org) co_return invalid("invalid orgId");
    }
    if (!providers::is_known_provider(provider)) co_return invalid("unknown provider");
    if (auto denied = http::require_user_or_admin(req)) co_return *denied;
    if (!http::is_admin(req) && req.ctx.principal->user_id != *uid) co_return forbidden(req);
    if (org) {
        auto op = require_org_access(*org, req);
        if (auto denied = co_await std::move(op)) co_return *denied;
    }

    const auto live = config_.live();
    auto tier = resolve_tier(live->tiers, req.ctx.principal->roles);
    ConsumeInput in{*uid, org, provider, *tokens, {}};
    auto* prompt = body->if_contains("prompt");
    in.chat_body["prompt"] = prompt ? *prompt : boost::json::value(nullptr);
    if (!org && live->quota_enforcement) {  // without enforcement the pool is never read here
        auto op = ensure_default_pool(PoolKey{OwnerType::user, *uid, provider}, tier.quota_cap);
        co_await std::move(op);
    }
    auto op = consume_->consume(std::move(in), tier, req.ctx);
    auto result = co_await std::move(op);

    auto now = format_rfc3339(ctx_.clock->now());
    auto bucket_body = [&](bool allowed) {
        const auto& d = *result.decision;
        return boost::json::object{{"allowed", allowed},    {"capacity", d.capacity},         {"used", d.used},
                                   {"remaining", d.remaining}, {"waitSeconds", d.wait_seconds}, {"timestamp", now}};
    };
    http::Response res;
    switch (result.outcome) {
        case Outcome::allowed: {
            auto o = bucket_body(true);
            o["providerResponse"] = std::move(result.provider_response);
            res = http::Response::json(200, o);
            break;
        }
        case Outcome::rate_limited: {
            auto o = bucket_body(false);
            o["providerResponse"] = boost::json::object{};
            res = http::error_response(429, "rate limit exceeded", req.path, std::move(o));
            res.set_header("Retry-After", std::to_string(result.decision->wait_seconds));
            break;
        }
        case Outcome::quota_insufficient:
            co_return http::error_response(402, "insufficient token quota", req.path);
        case Outcome::provider_failure:
            res = http::error_response(502, "provider call failed", req.path);
            break;
        case Outcome::error:
            ctx_.log->error("consume failed request_id={} error={}", req.ctx.request_id, result.message);
            res = http::error_response(503, "token service unavailable", req.path);
            break;
    }
    if (result.decision) add_rate_headers(res, *result.decision, result.params);
    co_return res;
}

}  // namespace lt::token
