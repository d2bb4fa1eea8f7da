// HTTP handlers for API keys (A3-A6).
#include <boost/json.hpp>

#include "auth_http.hpp"
#include "lt/auth/auth.hpp"
#include "lt/core/json.hpp"
#include "lt/http/authz.hpp"
#include "lt/http/errors.hpp"

namespace asio = boost::asio;

namespace lt::auth {

namespace {

/// 400 for a missing query parameter (the original's framework error).
http::Response missing_parameter(std::string_view name, const http::Request& req) {
    return http::error_response(400, "required parameter '" + std::string(name) + "' is missing", req.path);
}

}  // namespace

asio::awaitable<http::Response> AuthHttp::create_api_key(http::Request req) {
    if (auto denied = http::require_principal(req)) co_return std::move(*denied);
    auto body = parse_json_object(req.body);
    if (!body) {
        d_.metrics->api_key_create_failure();
        co_return http::error_response(body.error(), req.path);
    }
    // CONTRACT.md item 2: malformed input (400) before ownership (403); ownership compares the
    // canonical id, so a user's own id in upper case is still theirs.
    auto user_id = get_string(*body, "userId");

    std::optional<std::string> name;
    if (auto it = body->find("name"); it != body->end() && !it->value().is_null()) {
        if (!it->value().is_string()) {
            d_.metrics->api_key_create_failure();
            co_return http::error_response(400, "name must be a string", req.path);
        }
        name = std::string(it->value().as_string());
    }
    std::optional<std::string> expires_at;
    if (auto it = body->find("expiresAt"); it != body->end() && !it->value().is_null()) {
        if (!it->value().is_string()) {
            d_.metrics->api_key_create_failure();
            co_return http::error_response(400, "invalid expiresAt", req.path);
        }
        expires_at = std::string(it->value().as_string());
    }
    if (!user_id) {
        const bool present = body->contains("userId") && !body->at("userId").is_null();
        d_.metrics->api_key_create_failure();
        co_return http::error_response(400, present ? "invalid userId" : "userId is required", req.path);
    }
    auto canonical = parse_user_id(*user_id);
    if (!canonical) {
        d_.metrics->api_key_create_failure();
        co_return http::error_response(canonical.error(), req.path);
    }
    if (auto checked = ApiKeyService::check_create_fields(name, expires_at); !checked) {
        d_.metrics->api_key_create_failure();
        co_return http::error_response(checked.error(), req.path);
    }
    if (auto denied = http::require_self_or_admin(req, *canonical)) co_return std::move(*denied);
    auto op = d_.api_keys->create(std::move(*user_id), std::move(name), std::move(expires_at));
    auto r = co_await std::move(op);
    if (!r) co_return failure(r.error(), req);
    d_.log->info("api key created request_id={} user_id={} key_id={}", req.ctx.request_id, r->row.user_id,
                 r->row.id);
    co_return http::Response::json(201, to_json(*r));
}

asio::awaitable<http::Response> AuthHttp::list_api_keys(http::Request req) {
    if (auto denied = http::require_principal(req)) co_return std::move(*denied);
    auto user_id = req.query_param("userId");
    if (!user_id) co_return missing_parameter("userId", req);
    auto canonical = parse_user_id(*user_id);
    if (!canonical) co_return http::error_response(canonical.error(), req.path);
    if (auto denied = http::require_self_or_admin(req, *canonical)) co_return std::move(*denied);
    auto op = d_.api_keys->list(std::move(*user_id));
    auto r = co_await std::move(op);
    if (!r) co_return failure(r.error(), req);
    boost::json::array out;
    for (const auto& k : *r) out.push_back(to_summary_json(k));
    co_return http::Response::json(200, out);
}

asio::awaitable<http::Response> AuthHttp::delete_api_key(http::Request req) {
    if (auto denied = http::require_principal(req)) co_return std::move(*denied);
    auto user_id = req.query_param("userId");
    if (!user_id) co_return missing_parameter("userId", req);
    auto key_id = req.query_param("apiKeyId");
    if (!key_id) co_return missing_parameter("apiKeyId", req);
    auto canonical = parse_user_id(*user_id);
    if (!canonical) co_return http::error_response(canonical.error(), req.path);
    if (auto kid = ApiKeyService::parse_key_id(*key_id); !kid) co_return http::error_response(kid.error(), req.path);
    if (auto denied = http::require_self_or_admin(req, *canonical)) co_return std::move(*denied);
    auto op = d_.api_keys->revoke(std::move(*user_id), std::move(*key_id));
    auto r = co_await std::move(op);
    if (!r) co_return failure(r.error(), req);
    // Delivered before the 204, so that every gateway drops the key before the client can retry it.
    auto owner = *parse_user_id(req.query_param("userId").value_or(""));
    d_.log->info("api key revoked request_id={} user_id={}", req.ctx.request_id, owner);
    auto event_op = announce(kApiKeyRevoked, ApiKeyRevoked{*r, owner}, req.ctx);
    co_await std::move(event_op);
    co_return http::Response::empty(204);
}

asio::awaitable<http::Response> AuthHttp::validate_api_key(http::Request req) {
    const std::string raw(req.header("X-Api-Key"));
    auto op = d_.api_keys->verify(raw);
    auto r = co_await std::move(op);
    if (!r) co_return failure(r.error(), req);
    co_return http::Response::json(200, boost::json::value_from(*r));
}

}  // namespace lt::auth
