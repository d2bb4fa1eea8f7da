#pragma once
/// OAuth2Service: the client_credentials grant (CONTRACT.md 13a), JWT revocation by jti (RFC 7009)
/// and the revocation list verifiers need. Thread-safe; SQL runs on the blocking pool, bcrypt on the PasswordPool.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <tl/expected.hpp>

#include "auth_config.hpp"
#include "auth_store.hpp"
#include "key_manager.hpp"
#include "lt/bus/bus.hpp"
#include "password_pool.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::auth {

/// An OAuth 2.0 error answer: {"error", "error_description"} with its status.
struct OAuthError {
    int status = 400;
    std::string error;        ///< invalid_client, invalid_request, unsupported_grant_type, invalid_scope
    std::string description;
};

template <class T>
using OAuthResult = tl::expected<T, OAuthError>;

/// Parameters of POST /oauth2/token, client credentials already taken from Basic or the form.
struct TokenRequest {
    std::optional<std::string> client_id;
    std::optional<std::string> client_secret;
    std::optional<std::string> grant_type;
    std::optional<std::string> scope;
    std::string malformed;  ///< non-empty: the form itself was invalid (reported after client auth)
};

/// A successful token response.
struct ClientToken {
    std::string access_token;
    std::int64_t expires_in = 0;  ///< seconds
    std::string scope;            ///< granted scopes, space-separated
};

/// Thread-safe: any I/O thread may call it concurrently.
class OAuth2Service {
public:
    OAuth2Service(const AuthConfig& config, ports::SqlDatabase& db, PasswordPool& hashing, Clock& clock,
                  const KeyManager& keys);

    /// client_credentials: the client is authenticated first (401 invalid_client), then the grant
    /// type and scope are checked (400).
    boost::asio::awaitable<OAuthResult<ClientToken>> client_credentials(TokenRequest req);

    /// Revokes `token` on behalf of `who`. An invalid or expired token is nothing to revoke (nullopt,
    /// RFC 7009 §2.2); a valid token of another subject is Errc::forbidden unless `who` is ADMIN.
    boost::asio::awaitable<Result<std::optional<RevokedToken>>> revoke(std::string token, bus::Principal who);

    /// Revoked token ids whose tokens verifiers may still accept.
    boost::asio::awaitable<Result<std::vector<RevokedToken>>> revoked();

private:
    const AuthConfig& config_;
    ports::SqlDatabase& db_;
    PasswordPool& hashing_;
    Clock& clock_;
    const KeyManager& keys_;
};

}  // namespace lt::auth
