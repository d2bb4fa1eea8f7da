#pragma once
/// AuthStore: the auth module's SQL statements (tables auth_*), over one open transaction. Plain
/// synchronous calls: use it inside SqlDatabase::transact() bodies only (on the blocking pool).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::auth {

inline constexpr std::string_view kRoleUser = "USER";
inline constexpr std::string_view kRoleAdmin = "ADMIN";

/// Id of a built-in role ("USER", "ADMIN"), or nullopt for any other name.
std::optional<std::string_view> role_id(std::string_view name);

/// A row of auth_users.
struct UserRow {
    std::string id;
    std::string username;
    std::string email;
    std::optional<std::string> password_hash;
    std::int64_t roles_version = 0;  ///< bumped by every role change (JWT claim "rv")
};

/// A row of auth_api_keys (without the hash).
struct ApiKeyRow {
    std::string id;
    std::string user_id;
    std::optional<std::string> name;
    std::string created_at;                 ///< RFC 3339
    std::optional<std::string> expires_at;  ///< RFC 3339
};

/// A row of auth_signing_keys.
struct SigningKeyRow {
    std::string kid;
    std::string private_pem;  ///< empty once the key is retired
    std::string public_pem;
    std::string created_at;                 ///< RFC 3339
    std::optional<std::string> retired_at;  ///< RFC 3339; unset for the current key
};

/// A revoked JWT id with the token's expiry.
struct RevokedToken {
    std::string jti;
    std::int64_t exp = 0;  ///< epoch seconds
};

/// Statements of the auth module inside one transaction. Valid as long as the session is.
class AuthStore {
public:
    explicit AuthStore(ports::SqlSession& session) : s_(session) {}

    /// The user with exactly this username, else (unless `exact`) the one whose canonical key
    /// (username_key) matches the name's, or nullopt.
    Result<std::optional<UserRow>> find_user_by_username(std::string_view username, bool exact = false);
    /// Users stored before the canonical key existed: (id, username), oldest first.
    Result<std::vector<std::pair<std::string, std::string>>> users_without_key();
    /// Sets a user's canonical key; false (nothing written) when another user holds that key.
    Result<bool> set_username_key(std::string_view user_id, std::string_view key);
    /// Increments the user's roles version (now_s: epoch seconds of the change); returns the new one.
    Result<std::int64_t> bump_roles_version(std::string_view user_id, std::int64_t now_s);
    /// (user id, roles version) of users whose roles changed at or after `since_s` (epoch seconds).
    Result<std::vector<std::pair<std::string, std::int64_t>>> roles_changed_since(std::int64_t since_s);
    /// The user with this canonical id, or nullopt.
    Result<std::optional<UserRow>> find_user_by_id(std::string_view id);
    /// True when a user has exactly this email.
    Result<bool> email_taken(std::string_view email);
    /// Errc::conflict when the username, its canonical key or the email exists.
    Result<void> insert_user(const UserRow& user, std::string_view now);
    /// Replaces the password hash of a user.
    Result<void> update_password(std::string_view user_id, std::string_view hash, std::string_view now);

    /// Role names of a user, sorted.
    Result<std::vector<std::string>> roles_of(std::string_view user_id);
    /// Grants a built-in role; granting one the user has is a no-op.
    Result<void> grant_role(std::string_view user_id, std::string_view role);
    /// Removes a built-in role; removing one the user lacks is a no-op.
    Result<void> revoke_role(std::string_view user_id, std::string_view role);

    /// Number of API keys a user holds (expired ones included).
    Result<std::int64_t> count_api_keys(std::string_view user_id);
    /// Stores a key by its SHA-256 (`key_hash`, lower-case hex).
    Result<void> insert_api_key(const ApiKeyRow& key, std::string_view key_hash);
    /// Every key of a user, oldest first.
    Result<std::vector<ApiKeyRow>> list_api_keys(std::string_view user_id);
    /// Deletes key `key_id` of `user_id`; returns its hash, or nullopt when that user has no such key.
    Result<std::optional<std::string>> delete_api_key(std::string_view user_id, std::string_view key_id);
    /// The key whose raw value hashes to `key_hash`, or nullopt.
    Result<std::optional<ApiKeyRow>> find_api_key_by_hash(std::string_view key_hash);

    /// Every stored signing key, oldest first.
    Result<std::vector<SigningKeyRow>> signing_keys();
    /// Stores a signing key.
    Result<void> insert_signing_key(const SigningKeyRow& key);
    /// Replaces the stored private key of `kid` (encryption at rest of a plaintext key).
    Result<void> set_signing_key_private(std::string_view kid, std::string_view private_pem);
    /// Retires the current key(s): sets retired_at and erases the private key.
    Result<void> retire_signing_keys(std::string_view now);
    /// Forgets a signing key no token can need any more.
    Result<void> delete_signing_key(std::string_view kid);

    /// Records a revoked token id (idempotent).
    Result<void> insert_revoked(std::string_view jti, std::int64_t exp);
    /// Revoked token ids whose token has not expired at `now` (epoch seconds).
    Result<std::vector<RevokedToken>> revoked_tokens(std::int64_t now);
    /// Forgets revoked ids of tokens expired before `now` (epoch seconds).
    Result<void> purge_revoked(std::int64_t now);

private:
    Result<ports::SqlResult> exec(std::string_view sql, std::initializer_list<ports::SqlValue> params);
    ports::SqlSession& s_;
};

}  // namespace lt::auth
