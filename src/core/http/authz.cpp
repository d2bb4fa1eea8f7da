#include "lt/http/authz.hpp"

#include "lt/http/errors.hpp"

namespace lt::http {

std::optional<Response> require_principal(const Request& req) {
    if (req.ctx.principal && !req.ctx.principal->user_id.empty()) return std::nullopt;
    auto res = error_response(401, "authentication required", req.path);
    res.set_header("WWW-Authenticate", "Bearer");
    return res;
}

bool is_admin(const Request& req) { return req.ctx.principal && req.ctx.principal->has_role("ADMIN"); }

std::optional<Response> require_role(const Request& req, std::string_view role) {
    if (auto r = require_principal(req)) return r;
    if (req.ctx.principal->has_role(role)) return std::nullopt;
    return error_response(403, "forbidden", req.path);
}

std::optional<Response> require_user_or_admin(const Request& req) {
    if (auto r = require_principal(req)) return r;
    if (req.ctx.principal->has_role("USER") || req.ctx.principal->has_role("ADMIN")) return std::nullopt;
    return error_response(403, "forbidden", req.path);
}

std::optional<Response> require_self_or_admin(const Request& req, std::string_view user_id) {
    if (auto r = require_principal(req)) return r;
    if (is_admin(req) || (!user_id.empty() && req.ctx.principal->user_id == user_id)) return std::nullopt;
    return error_response(403, "forbidden", req.path);
}

}  // namespace lt::http
