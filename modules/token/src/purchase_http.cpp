// Handlers of the purchase saga endpoints (T5, T6).
#include <boost/json.hpp>

#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "lt/http/authz.hpp"
#include "lt/http/errors.hpp"
#include "lt/providers/providers.hpp"
#include "token_http.hpp"
#include "token_module.hpp"

namespace asio = boost::asio;

namespace lt::token {

namespace {
constexpr std::size_t kMaxIdempotencyKey = 100;

/// Characters (UTF-8 code points) of `text`: every byte that does not continue a sequence.
std::size_t char_count(std::string_view text) {
    std::size_t n = 0;
    for (unsigned char c : text) n += (c & 0xC0) != 0x80;
    return n;
}

http::Response unavailable(const http::Request& req) {
    return http::error_response(503, "token service unavailable", req.path);
}
}  // namespace

asio::awaitable<http::Response> TokenModule::purchase(http::Request req) {
    auto body = parse_json_object(req.body);
    if (!body) co_return bad_request(req, body.error().message);
    auto user_id = trimmed_field(*body, "userId");
    auto provider = to_lower(trimmed_field(*body, "provider"));
    auto org_raw = trimmed_field(*body, "orgId");
    if (user_id.empty()) co_return bad_request(req, "userId is required");
    if (provider.empty()) co_return bad_request(req, "provider is required");
    auto tokens = parse_tokens(*body);
    if (!tokens) co_return bad_request(req, tokens.error().message);
    auto key = trim(req.header("Idempotency-Key"));
    if (char_count(key) > kMaxIdempotencyKey) co_return bad_request(req, "idempotency key too long");
    auto* org_value = body->if_contains("orgId");
    std::optional<std::string> org;
    if (org_value && !org_value->is_null() && !org_value->is_string()) co_return bad_request(req, "invalid userId or orgId");
    if (!org_raw.empty()) {
        org = normalize_uuid(org_raw);
        if (!org) co_return bad_request(req, "invalid userId or orgId");
    }
    auto uid = normalize_uuid(user_id);
    if (!uid) co_return bad_request(req, "invalid userId or orgId");
    if (!providers::is_known_provider(provider)) co_return bad_request(req, "unknown provider");
    if (auto denied = http::require_user_or_admin(req)) co_return *denied;
    if (!http::is_admin(req) && req.ctx.principal->user_id != *uid) co_return forbidden(req);
    if (org) {
        auto access = require_org_access(*org, req);
        if (auto denied = co_await std::move(access)) co_return *denied;
    }
    if (!config_.live()->saga_enabled) co_return http::error_response(503, "token purchase disabled", req.path);
    {
        // Tokens for a user that does not exist (or no longer does) are refused (issue 15 item 7).
        auto known = user_roles(*uid, req);
        auto roles = co_await std::move(known);
        if (!roles) co_return std::move(roles.error());
    }

    PurchaseRequest request{*uid, org, provider, *tokens, std::nullopt};
    if (!key.empty()) request.idempotency_key = key;
    auto op = saga_->purchase(std::move(request));
    auto saga = co_await std::move(op);
    if (!saga) {
        if (saga.error().code == Errc::conflict) co_return http::error_response(409, saga.error().message, req.path);
        ctx_.log->error("purchase failed request_id={} error={}", req.ctx.request_id, saga.error().message);
        co_return unavailable(req);
    }
    co_return http::Response::json(202, boost::json::object{{"sagaId", saga->id},
                                                            {"status", to_string(saga->status)},
                                                            {"createdAt", format_rfc3339(saga->created_at)}});
}

asio::awaitable<http::Response> TokenModule::get_purchase(http::Request req) {
    auto id = normalize_uuid(req.path_param("sagaId"));
    if (!id) co_return bad_request(req, "invalid sagaId");
    if (auto denied = http::require_user_or_admin(req)) co_return *denied;
    auto op = saga_->find(*id);
    auto found = co_await std::move(op);
    if (!found) co_return unavailable(req);
    if (!*found) co_return http::error_response(404, "saga not found", req.path);
    const auto& saga = **found;
    if (!http::is_admin(req) && req.ctx.principal->user_id != saga.user_id) co_return forbidden(req);
    http::Response res;
    res.status = 200;
    res.set_header("Content-Type", "application/json");
    res.body = saga_json(saga);
    co_return res;
}

}  // namespace lt::token
