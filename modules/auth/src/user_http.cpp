// HTTP handlers for users: register, login, role management, signing-key rotation.
#include <boost/json.hpp>

#include "auth_http.hpp"
#include "username.hpp"
#include "lt/auth/auth.hpp"
#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "lt/http/authz.hpp"
#include "lt/http/errors.hpp"

namespace asio = boost::asio;

namespace lt::auth {

http::Response AuthHttp::failure(const Error& e, const http::Request& req) const {
    if (e.code == Errc::internal) {
        d_.log->error("auth request failed request_id={} path={} error={}", req.ctx.request_id, req.path, e.message);
        return http::error_response(500, "internal error", req.path);
    }
    return http::error_response(e, req.path);
}

asio::awaitable<void> AuthHttp::announce_named(std::string topic, bus::Payload event, bus::Context ctx) const {
    const std::string request_id = ctx.request_id;
    auto op = d_.bus->deliver_named(topic, std::move(event), std::move(ctx));
    auto r = co_await std::move(op);
    if (!r) {
        d_.log->error("event delivery failed topic={} request_id={} error={}", topic, request_id, r.error().message);
    }
}

asio::awaitable<http::Response> AuthHttp::register_user(http::Request req) {
    auto body = parse_json_object(req.body);
    if (!body) {
        d_.metrics->register_failure();
        co_return http::error_response(body.error(), req.path);
    }
    Credentials in{get_string(*body, "username"), get_string(*body, "email"), get_string(*body, "password")};
    auto op = d_.users->register_user(std::move(in));
    auto r = co_await std::move(op);
    if (!r) co_return failure(r.error(), req);
    d_.log->info("user registered request_id={} user_id={}", req.ctx.request_id, r->user_id);
    co_return http::Response::json(201, to_json(*r));
}

asio::awaitable<http::Response> AuthHttp::login(http::Request req) {
    auto body = parse_json_object(req.body);
    if (!body) {
        d_.metrics->login_failure();
        co_return http::error_response(body.error(), req.path);
    }
    Credentials in{get_string(*body, "username"), std::nullopt, get_string(*body, "password")};
    // Checked before the password is, per account (its canonical name) and per client IP.
    const std::string account = in.username ? username_key(trim(*in.username)) : std::string();
    const std::string ip = req.remote_ip;
    if (d_.login_limiter != nullptr && !account.empty()) {
        auto admit_op = d_.login_limiter->check(account, ip, d_.clock->now());
        auto admission = co_await std::move(admit_op);
        if (!admission.allowed) {
            d_.metrics->login_failure();
            d_.log->warn("login refused by the failed-login limiter request_id={} remote={}", req.ctx.request_id, ip);
            auto res = http::error_response(429, "too many failed logins: try again later", req.path,
                                            boost::json::object{{"retryAfterSeconds", admission.retry_after_seconds}});
            res.set_header("Retry-After", std::to_string(admission.retry_after_seconds));
            co_return res;
        }
    }
    auto op = d_.users->login(std::move(in));
    auto r = co_await std::move(op);
    if (!r) {
        if (d_.login_limiter != nullptr && !account.empty() && r.error().code == Errc::unauthenticated) {
            auto failed_op = d_.login_limiter->failed(account, ip, d_.clock->now());
            co_await std::move(failed_op);
        }
        co_return failure(r.error(), req);
    }
    if (d_.login_limiter != nullptr) {
        auto ok_op = d_.login_limiter->succeeded(account, d_.clock->now());
        co_await std::move(ok_op);
    }
    co_return http::Response::json(200, to_json(*r));
}

asio::awaitable<http::Response> AuthHttp::set_role(http::Request req, bool grant) {
    if (auto denied = http::require_principal(req)) co_return std::move(*denied);
    // Malformed input is 400 before the 403 (CONTRACT.md item 2).
    const std::string user_id(req.path_param("userId"));
    const std::string role(req.path_param("role"));
    if (!normalize_uuid(user_id)) co_return http::error_response(400, "invalid userId", req.path);
    if (!parse_role(role)) co_return http::error_response(400, "role must be USER or ADMIN", req.path);
    if (auto denied = http::require_role(req, kRoleAdmin)) co_return std::move(*denied);
    auto op = d_.users->set_role(user_id, role, grant);
    auto r = co_await std::move(op);
    if (!r) co_return failure(r.error(), req);
    const auto id = *normalize_uuid(user_id);
    d_.log->info("user role changed request_id={} user_id={} role={} granted={}", req.ctx.request_id, id,
                 *parse_role(role), grant);
    auto event_op = announce(kUserRolesChanged, UserRolesChanged{id, *r}, req.ctx);
    co_await std::move(event_op);
    co_return http::Response::empty(204);
}

asio::awaitable<http::Response> AuthHttp::rotate_keys(http::Request req) {
    if (auto denied = http::require_role(req, kRoleAdmin)) co_return std::move(*denied);
    const auto now = d_.clock->now();
    KeyManager* keys = d_.keys;
    ports::SqlDatabase* db = d_.db;
    auto op = d_.blocking->run([keys, db, now] { return keys->rotate(*db, now); });
    auto kid = co_await std::move(op);
    if (!kid) co_return failure(kid.error(), req);
    d_.log->info("signing key rotated request_id={} kid={}", req.ctx.request_id, *kid);
    auto event_op = announce(kKeysRotated, bus::Empty{}, req.ctx);
    co_await std::move(event_op);
    co_return http::Response::json(200, boost::json::object{{"kid", *kid}});
}

}  // namespace lt::auth
