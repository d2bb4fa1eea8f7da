#pragma once
/// Typed configuration of the auth module (auth.*).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lt/core/config.hpp"
#include "lt/core/result.hpp"
#include "login_limiter.hpp"

namespace lt::auth {

/// Limits on user input (CONTRACT.md item 11; the database column sizes of the original).
inline constexpr std::size_t kMaxUsernameChars = 50;
inline constexpr std::size_t kMaxEmailChars = 100;
inline constexpr std::size_t kMaxKeyNameChars = 100;

/// An OAuth2 client allowed to use the client_credentials grant.
struct OAuthClient {
    std::string secret_hash;          ///< bcrypt hash of the client secret
    std::vector<std::string> scopes;  ///< scopes the client may request
};

/// The ADMIN user created or updated at start (auth.bootstrap-admin.*).
struct BootstrapAdmin {
    std::string username;
    std::string password;
    std::string email;  ///< `<username>@localhost` when not configured
};

/// The auth module's settings, parsed once at start-up; read-only afterwards.
struct AuthConfig {
    std::string issuer = "leaky-tokens-auth";
    std::int64_t expiry_seconds = 3600;  ///< JWT lifetime
    int key_bits = 2048;                 ///< RSA modulus size of new signing keys
    std::optional<BootstrapAdmin> bootstrap_admin;
    std::map<std::string, OAuthClient, std::less<>> clients;  ///< by client id
    std::int64_t max_keys_per_user = 100;                     ///< API keys one user may hold
    /// Passphrase encrypting signing keys at rest ("" = plaintext); a "file:" value names a file
    /// holding it (auth.jwt.key-encryption-key).
    std::string key_encryption_key;
    LoginLimitConfig login;                    ///< auth.login.*
    std::int64_t password_hash_threads = 2;    ///< bcrypt's own pool (auth.password-hash.threads)
    std::int64_t password_hash_queue = 64;     ///< bcrypt jobs waiting at most (auth.password-hash.max-queued)
};

/// Number of characters (UTF-8 code points) in `text`.
std::size_t utf8_length(std::string_view text);

/// Reads auth.*; every problem is reported at once, each naming its dotted key.
Result<AuthConfig> parse_config(const config::Config& cfg);

}  // namespace lt::auth
