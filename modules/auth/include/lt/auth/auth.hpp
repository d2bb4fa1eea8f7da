#pragma once
/// Contract of the auth module: users, roles, bcrypt passwords, RS256 JWT + JWKS (persisted keys with
/// `kid`, rotation, revocation by `jti`), API keys (SHA-256 at rest), OAuth2 client credentials,
/// admin bootstrap. Public HTTP: /api/v1/auth/**, /oauth2/**.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "lt/core/config.hpp"
#include "lt/core/module.hpp"
#include "lt/core/result.hpp"

namespace lt::auth {

/// Command: validate an API key. Request {"apiKey": raw key}. Reply VerifiedKey. Errors:
/// Errc::unauthenticated with the original messages ("api key is required", "invalid api key",
/// "api key expired").
inline constexpr std::string_view kVerifyKeyCommand = "auth.verify_key.v1";

/// Command: current verification material. Request {}. Reply {"keys": JWKS keys array,
/// "revoked": [{"jti": string, "exp": epoch seconds}, ...] (revoked tokens not yet expired),
/// "rolesVersions": [{"userId", "rolesVersion"}, ...] (users whose roles changed within one token
/// lifetime: tokens with an older "rv" claim must not be trusted for their roles)}.
inline constexpr std::string_view kJwksCommand = "auth.jwks.v1";

/// Command: look a user up. Request {"userId"}. Reply {"userId","username","roles","rolesVersion"}. Errors:
/// Errc::not_found `user not found`, Errc::invalid_argument for a malformed id.
inline constexpr std::string_view kGetUserCommand = "auth.get_user.v1";

/// Event: an API key was revoked. {"keyHash": sha256 hex of the raw key, "userId"}.
inline constexpr std::string_view kApiKeyRevokedEvent = "auth.api_key_revoked.v1";
/// Event: a JWT was revoked. {"jti", "exp"}.
inline constexpr std::string_view kTokenRevokedEvent = "auth.token_revoked.v1";
/// Event: the signing keys changed (rotation). {} — verifiers refetch kJwksCommand.
inline constexpr std::string_view kKeysRotatedEvent = "auth.keys_rotated.v1";
/// Event: a user's roles changed. {"userId", "rolesVersion"} — caches holding that user's roles drop
/// them; JWTs of that user with an older "rv" claim lose their roles (looked up again).
inline constexpr std::string_view kUserRolesChangedEvent = "auth.user_roles_changed.v1";

struct VerifiedKey {
    std::string user_id;
    std::vector<std::string> roles;       ///< owner's current roles, sorted
    std::optional<std::string> name;
    std::optional<std::string> expires_at;  ///< RFC 3339, when the key expires
};

boost::json::value to_json(const VerifiedKey& k);
Result<VerifiedKey> verified_key_from_json(const boost::json::value& v);

/// Declares auth.* configuration keys.
void describe_config(config::Schema& schema);

/// The module factory. Needs ctx.sql and ctx.blocking.
Result<std::unique_ptr<Module>> make_module(ModuleContext ctx);

/// `leaky-tokens user create`: creates the user or updates its password, and grants ADMIN when
/// `admin` (USER always). An empty `email` means `<username>@localhost`; inputs are validated like a
/// registration (Errc::invalid_argument). Needs ctx.sql (ctx.clock optional). Runs the auth
/// migrations first. Blocking. Returns the user id.
Result<std::string> create_user_offline(const ModuleContext& ctx, std::string username, std::string email,
                                        std::string password, bool admin);

}  // namespace lt::auth
