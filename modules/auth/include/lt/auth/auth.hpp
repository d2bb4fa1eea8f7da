#pragma once
/// Contract of the auth module: users, roles, bcrypt passwords, RS256 JWT + JWKS (persisted keys with
/// `kid`, rotation, revocation by `jti`), API keys (SHA-256 at rest), OAuth2 client credentials,
/// admin bootstrap. Public HTTP: /api/v1/auth/**, /oauth2/**.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "lt/bus/bus.hpp"

#include "lt/core/config.hpp"
#include "lt/http/route_spec.hpp"
#include "lt/core/module.hpp"
#include "lt/core/result.hpp"

namespace lt::auth {

/// Request of kVerifyKey.
struct VerifyKeyRequest {
    std::string api_key;  ///< the raw key as the client sent it (may be empty: "api key is required")
    bool operator==(const VerifyKeyRequest&) const = default;
};

/// Reply of kVerifyKey (also the A6 body of an API key's verification).
struct VerifiedKey {
    std::string user_id;
    std::vector<std::string> roles;       ///< owner's current roles, sorted
    std::optional<std::string> name;
    std::optional<std::string> expires_at;  ///< RFC 3339, when the key expires
    bool operator==(const VerifiedKey&) const = default;
};

/// A revoked JWT: event kTokenRevoked, and an entry of JwksReply::revoked.
struct TokenRevoked {
    std::string jti;
    std::int64_t exp = 0;  ///< epoch seconds: the token's own expiry (the revocation can be forgotten after)
    bool operator==(const TokenRevoked&) const = default;
};

/// A user's roles version (bumped on every role change; a JWT with an older "rv" claim must not be
/// trusted for its roles).
struct RolesVersion {
    std::string user_id;
    std::int64_t roles_version = 0;
    bool operator==(const RolesVersion&) const = default;
};

/// Reply of kJwks: the current verification material.
struct JwksReply {
    boost::json::array keys;             ///< JWKS keys (RFC 7517 objects)
    std::vector<TokenRevoked> revoked;   ///< revoked tokens not yet expired
    std::vector<RolesVersion> roles_versions;  ///< users whose roles changed within one token lifetime (wire "rolesVersions")
    bool operator==(const JwksReply&) const = default;
};

/// Request of kGetUser.
struct GetUserRequest {
    std::string user_id;  ///< a UUID (any case)
    bool operator==(const GetUserRequest&) const = default;
};

/// Reply of kGetUser.
struct UserInfo {
    std::string user_id;  ///< canonical lower-case UUID
    std::string username;
    std::vector<std::string> roles;  ///< sorted
    std::int64_t roles_version = 0;  ///< the user's current roles version
    bool operator==(const UserInfo&) const = default;
};

/// Event kApiKeyRevoked.
struct ApiKeyRevoked {
    std::string key_hash;  ///< SHA-256 hex of the raw key
    std::string user_id;
    bool operator==(const ApiKeyRevoked&) const = default;
};

/// Event kUserRolesChanged.
struct UserRolesChanged {
    std::string user_id;
    std::int64_t roles_version = 0;  ///< the user's roles version after the change
    bool operator==(const UserRolesChanged&) const = default;
};

/// Command: validate an API key. Errors: Errc::unauthenticated with the original messages ("api key is
/// required", "invalid api key", "api key expired").
inline constexpr bus::Command<VerifyKeyRequest, VerifiedKey> kVerifyKey{"auth.verify_key.v1"};
/// Command: current verification material (signing keys and revoked tokens).
inline constexpr bus::Command<bus::Empty, JwksReply> kJwks{"auth.jwks.v1"};
/// Command: look a user up. Errors: Errc::not_found `user not found`, Errc::invalid_argument for a
/// malformed id.
inline constexpr bus::Command<GetUserRequest, UserInfo> kGetUser{"auth.get_user.v1"};

/// Event: an API key was revoked (delivered before the revocation answers, CONTRACT 13).
inline constexpr bus::Event<ApiKeyRevoked> kApiKeyRevoked{"auth.api_key_revoked.v1"};
/// Event: a JWT was revoked.
inline constexpr bus::Event<TokenRevoked> kTokenRevoked{"auth.token_revoked.v1"};
/// Event: the signing keys changed (rotation) — verifiers refetch kJwks.
inline constexpr bus::Event<bus::Empty> kKeysRotated{"auth.keys_rotated.v1"};
/// Event: a user's roles changed — caches holding that user's roles drop them.
inline constexpr bus::Event<UserRolesChanged> kUserRolesChanged{"auth.user_roles_changed.v1"};

// Codecs (Boost.JSON; wire names camelCase: apiKey, userId, expiresAt, keyHash, ...).
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const VerifyKeyRequest& m);
VerifyKeyRequest tag_invoke(boost::json::value_to_tag<VerifyKeyRequest>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const VerifiedKey& m);
VerifiedKey tag_invoke(boost::json::value_to_tag<VerifiedKey>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const TokenRevoked& m);
TokenRevoked tag_invoke(boost::json::value_to_tag<TokenRevoked>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const RolesVersion& m);
RolesVersion tag_invoke(boost::json::value_to_tag<RolesVersion>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const JwksReply& m);
JwksReply tag_invoke(boost::json::value_to_tag<JwksReply>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const GetUserRequest& m);
GetUserRequest tag_invoke(boost::json::value_to_tag<GetUserRequest>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const UserInfo& m);
UserInfo tag_invoke(boost::json::value_to_tag<UserInfo>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const ApiKeyRevoked& m);
ApiKeyRevoked tag_invoke(boost::json::value_to_tag<ApiKeyRevoked>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const UserRolesChanged& m);
UserRolesChanged tag_invoke(boost::json::value_to_tag<UserRolesChanged>, const boost::json::value& v);

/// Public HTTP routes of the auth module (register, login, key validation, JWKS and the token endpoint are public: CONTRACT 5).
inline constexpr http::RouteSpec kRoutes[] = {
    {"POST", "/api/v1/auth/register", http::Access::optional, "auth-server"},
    {"POST", "/api/v1/auth/login", http::Access::optional, "auth-server"},
    {"POST", "/api/v1/auth/api-keys", http::Access::required, "auth-server"},
    {"GET", "/api/v1/auth/api-keys", http::Access::required, "auth-server"},
    {"DELETE", "/api/v1/auth/api-keys", http::Access::required, "auth-server"},
    {"GET", "/api/v1/auth/api-keys/validate", http::Access::optional, "auth-server"},
    {"PUT", "/api/v1/auth/users/{userId}/roles/{role}", http::Access::required, "auth-server"},
    {"DELETE", "/api/v1/auth/users/{userId}/roles/{role}", http::Access::required, "auth-server"},
    {"POST", "/api/v1/auth/keys/rotate", http::Access::required, "auth-server"},
    {"GET", "/oauth2/jwks", http::Access::optional, "auth-server"},
    {"POST", "/oauth2/token", http::Access::optional, "auth-server"},
    {"POST", "/oauth2/revoke", http::Access::required, "auth-server"},
};

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
