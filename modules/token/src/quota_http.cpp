// Handlers of the quota, allocation and organization endpoints.
#include <boost/json.hpp>

#include "lt/auth/auth.hpp"
#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "lt/http/authz.hpp"
#include "lt/http/errors.hpp"
#include "lt/providers/providers.hpp"
#include "tiers.hpp"
#include "token_http.hpp"
#include "token_module.hpp"

namespace asio = boost::asio;

namespace lt::token {

void TokenModule::count_lookup(const std::string& provider, std::string_view outcome) {
    if (lookup_total_) lookup_total_->labels({providers::is_known_provider(provider) ? provider : "unknown", outcome}).inc();
}

asio::awaitable<tl::expected<std::vector<std::string>, http::Response>> TokenModule::user_roles(std::string user_id,
                                                                                                http::Request req) {
    auto op = ctx_.bus->call(auth::kGetUser, auth::GetUserRequest{user_id}, req.ctx.with_timeout(std::chrono::seconds(2)));
    auto r = co_await std::move(op);
    if (!r) {
        const bool unknown = r.error().code == Errc::not_found || r.error().code == Errc::invalid_argument;
        co_return tl::make_unexpected(unknown ? http::error_response(404, "user not found", req.path)
                                              : http::error_response(503, "user directory unavailable", req.path));
    }
    co_return std::move(r->roles);
}

asio::awaitable<std::optional<http::Response>> TokenModule::require_org(std::string org_id, http::Request req) {
    auto op = orgs_->exists(org_id);
    auto exists = co_await std::move(op);
    if (!exists) co_return http::error_response(503, "token service unavailable", req.path);
    if (!*exists) co_return http::error_response(404, "org not found", req.path);
    co_return std::nullopt;
}

asio::awaitable<std::optional<http::Response>> TokenModule::require_org_access(std::string org_id, http::Request req) {
    if (http::is_admin(req)) {
        auto op = require_org(org_id, req);
        co_return co_await std::move(op);
    }
    auto op = orgs_->is_member(org_id, req.ctx.principal->user_id);
    auto member = co_await std::move(op);
    if (!member) co_return http::error_response(503, "token service unavailable", req.path);
    if (!*member) co_return forbidden(req);
    co_return std::nullopt;
}

asio::awaitable<tl::expected<std::pair<std::string, std::string>, http::Response>> TokenModule::member_target(
    http::Request req) {
    auto org = normalize_uuid(req.path_param("orgId"));
    auto user = normalize_uuid(req.path_param("userId"));
    if (!org) co_return tl::make_unexpected(bad_request(req, "invalid orgId"));
    if (!user) co_return tl::make_unexpected(bad_request(req, "invalid userId"));
    if (auto denied = http::require_role(req, "ADMIN")) co_return tl::make_unexpected(std::move(*denied));
    auto op = require_org(*org, req);
    if (auto missing = co_await std::move(op)) co_return tl::make_unexpected(std::move(*missing));
    co_return std::pair{std::move(*org), std::move(*user)};
}

asio::awaitable<void> TokenModule::ensure_default_pool(PoolKey key, std::optional<std::int64_t> cap) {
    auto it = config_.default_allowance.find(key.provider);
    if (it == config_.default_allowance.end() || it->second <= 0) co_return;
    auto op = quota_->set_allowance(key, it->second, cap, ctx_.clock->now(), true);
    co_await std::move(op);  // Errc::conflict when the pool exists already: nothing to do
}

asio::awaitable<http::Response> TokenModule::get_quota(http::Request req) {
    auto op = lookup_quota(OwnerType::user, std::move(req));
    co_return co_await std::move(op);
}

asio::awaitable<http::Response> TokenModule::get_org_quota(http::Request req) {
    auto op = lookup_quota(OwnerType::org, std::move(req));
    co_return co_await std::move(op);
}

asio::awaitable<http::Response> TokenModule::lookup_quota(OwnerType type, http::Request req) {
    const bool org = type == OwnerType::org;
    const std::string field = org ? "orgId" : "userId";
    auto owner = trim(req.query_param(field).value_or(""));
    auto provider = to_lower(trim(req.query_param("provider").value_or("")));
    auto invalid = [&](std::string_view msg) {
        count_lookup(provider, "invalid");
        return bad_request(req, msg);
    };
    if (owner.empty()) co_return invalid(field + " is required");
    if (provider.empty()) co_return invalid("provider is required");
    auto id = normalize_uuid(owner);
    if (!id) co_return invalid("invalid " + field);
    if (!providers::is_known_provider(provider)) co_return invalid("unknown provider");
    if (auto denied = http::require_user_or_admin(req)) co_return *denied;
    PoolKey key{type, *id, provider};
    std::optional<std::int64_t> cap;
    if (org) {
        auto access = require_org_access(*id, req);
        if (auto denied = co_await std::move(access)) co_return *denied;
    } else {
        if (!http::is_admin(req) && req.ctx.principal->user_id != *id) co_return forbidden(req);
        // The cap is the caller's tier only when the caller owns the pool; an ADMIN looking at a
        // user's pool does not re-cap it with the ADMIN tier.
        if (req.ctx.principal->user_id == *id) cap = resolve_tier(config_.live()->tiers, req.ctx.principal->roles).quota_cap;
        auto create = ensure_default_pool(key, cap);
        co_await std::move(create);
    }
    auto op = quota_->get(key, cap, ctx_.clock->now());
    auto view = co_await std::move(op);
    if (!view) co_return http::error_response(503, "token service unavailable", req.path);
    if (!*view) {
        count_lookup(provider, "not_found");
        co_return http::error_response(404, "quota not found", req.path);
    }
    count_lookup(provider, "found");
    co_return http::Response::json(200, quota_json(key, **view));
}

asio::awaitable<http::Response> TokenModule::set_quota(http::Request req) {
    auto body = parse_json_object(req.body);
    if (!body) co_return bad_request(req, body.error().message);
    auto user = trimmed_field(*body, "userId");
    auto org = trimmed_field(*body, "orgId");
    auto provider = to_lower(trimmed_field(*body, "provider"));
    if (user.empty() == org.empty()) co_return bad_request(req, "exactly one of userId and orgId is required");
    if (provider.empty()) co_return bad_request(req, "provider is required");
    auto* a = body->if_contains("allowanceTokens");
    if (!a || !a->is_int64() || a->as_int64() < 0 || a->as_int64() > 1'000'000'000'000LL) {
        co_return bad_request(req, "allowanceTokens must be an integer from 0 to 1000000000000");
    }
    auto owner = normalize_uuid(user.empty() ? org : user);
    if (!owner) co_return bad_request(req, user.empty() ? "invalid orgId" : "invalid userId");
    if (!providers::is_known_provider(provider)) co_return bad_request(req, "unknown provider");
    if (auto denied = http::require_role(req, "ADMIN")) co_return *denied;
    PoolKey key{user.empty() ? OwnerType::org : OwnerType::user, *owner, provider};
    std::optional<std::int64_t> cap;
    if (key.type == OwnerType::user) {
        // The owner's tier is not known here (roles live in the auth module): look them up.
        auto op = user_roles(*owner, req);
        auto roles = co_await std::move(op);
        if (!roles) co_return std::move(roles.error());
        cap = resolve_tier(config_.live()->tiers, *roles).quota_cap;
    } else {
        auto op = require_org(*owner, req);
        if (auto missing = co_await std::move(op)) co_return *missing;
    }
    auto op = quota_->set_allowance(key, a->as_int64(), cap, ctx_.clock->now());
    auto view = co_await std::move(op);
    if (!view) co_return http::error_response(view.error(), req.path);
    co_return http::Response::json(200, quota_json(key, *view));
}

asio::awaitable<http::Response> TokenModule::create_org(http::Request req) {
    auto body = parse_json_object(req.body);
    if (!body) co_return bad_request(req, body.error().message);
    auto name = trimmed_field(*body, "name");
    if (name.empty()) co_return bad_request(req, "name is required");
    if (name.size() > 100) co_return bad_request(req, "name too long");
    std::optional<std::string> id;
    if (auto raw = trimmed_field(*body, "orgId"); !raw.empty()) {
        id = normalize_uuid(raw);
        if (!id) co_return bad_request(req, "invalid orgId");
    }
    if (auto denied = http::require_role(req, "ADMIN")) co_return *denied;
    auto op = orgs_->create(name, id);
    auto org = co_await std::move(op);
    if (!org) co_return http::error_response(org.error(), req.path);
    co_return http::Response::json(201, boost::json::object{{"orgId", org->org_id},
                                                            {"name", org->name},
                                                            {"createdAt", format_rfc3339(org->created_at)}});
}

asio::awaitable<http::Response> TokenModule::put_member(http::Request req) {
    auto op0 = member_target(req);
    auto target = co_await std::move(op0);
    if (!target) co_return std::move(target.error());
    auto op1 = user_roles(target->second, req);
    if (auto known = co_await std::move(op1); !known) co_return std::move(known.error());
    auto op = orgs_->add_member(target->first, target->second);
    auto r = co_await std::move(op);
    if (!r) co_return http::error_response(r.error(), req.path);
    co_return http::Response::empty(204);
}

asio::awaitable<http::Response> TokenModule::delete_member(http::Request req) {
    auto op0 = member_target(req);
    auto target = co_await std::move(op0);
    if (!target) co_return std::move(target.error());
    auto op = orgs_->remove_member(target->first, target->second);
    auto r = co_await std::move(op);
    if (!r) co_return http::error_response(r.error(), req.path);
    co_return http::Response::empty(204);
}

asio::awaitable<http::Response> TokenModule::list_members(http::Request req) {
    auto org = normalize_uuid(req.path_param("orgId"));
    if (!org) co_return bad_request(req, "invalid orgId");
    if (auto denied = http::require_user_or_admin(req)) co_return *denied;
    auto op0 = require_org_access(*org, req);
    if (auto denied = co_await std::move(op0)) co_return *denied;
    auto op = orgs_->members(*org);
    auto members = co_await std::move(op);
    if (!members) co_return http::error_response(members.error(), req.path);
    boost::json::array arr;
    for (const auto& m : *members) arr.emplace_back(m);
    co_return http::Response::json(200, boost::json::object{{"orgId", *org}, {"members", std::move(arr)}});
}

}  // namespace lt::token
