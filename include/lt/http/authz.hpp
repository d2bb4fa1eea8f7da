#pragma once
/// Authorization helpers for module handlers. The principal was verified by the gateway and travels
/// in Request::ctx.principal; modules never read identity from headers.

#include <optional>
#include <string_view>

#include "lt/http/message.hpp"

namespace lt::http {

/// 401 JSON (with WWW-Authenticate: Bearer) when the request has no principal, else nullopt.
std::optional<Response> require_principal(const Request& req);
/// 401 without a principal; 403 unless the principal has `role`.
std::optional<Response> require_role(const Request& req, std::string_view role);
/// 401 without a principal; 403 unless it has the USER or the ADMIN role (every user-facing endpoint).
std::optional<Response> require_user_or_admin(const Request& req);
/// 401 without a principal; 403 unless the principal's user id equals `user_id` (exact, canonical
/// lower-case UUIDs) or it has the ADMIN role.
std::optional<Response> require_self_or_admin(const Request& req, std::string_view user_id);
/// True when the principal is ADMIN.
bool is_admin(const Request& req);

}  // namespace lt::http
