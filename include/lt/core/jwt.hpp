#pragma once
/// JSON Web Tokens, RS256 only: signing with a key id (`kid`) and strict verification against a
/// key set (JWKS). Anything but `"alg":"RS256"` with a known `kid` is rejected.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "lt/core/crypto.hpp"
#include "lt/core/result.hpp"

namespace lt::jwt {

struct Claims {
    std::string sub;                 ///< subject: user id (or OAuth2 client id)
    std::string iss;                 ///< issuer
    std::vector<std::string> roles;  ///< sorted role names (may be empty)
    std::string jti;                 ///< token id (UUID), used for revocation
    std::int64_t iat = 0;            ///< issued at, epoch seconds
    std::int64_t exp = 0;            ///< expires at, epoch seconds
    std::optional<std::int64_t> nbf; ///< not before, epoch seconds
    std::string scope;               ///< OAuth2 scopes, space-separated ("" = none, claim omitted)
    /// Roles version of the subject when issued (claim "rv", omitted when 0): a gateway that knows a
    /// newer version for the subject no longer trusts `roles` (docs/security.md).
    std::int64_t rv = 0;
};

/// Signs `claims` with RS256. Header: {"alg":"RS256","typ":"JWT","kid":kid}. Payload members:
/// sub, iss, roles (array, always present), iat, exp, jti, and nbf/scope/rv when set.
Result<std::string> sign(const Claims& claims, const crypto::RsaKey& key, std::string_view kid);

/// Public keys by kid. Not synchronized: build it, then share it read-only (e.g. via shared_ptr).
class KeySet {
public:
    void add(std::string kid, crypto::RsaKey key) { keys_.insert_or_assign(std::move(kid), std::move(key)); }
    const crypto::RsaKey* find(std::string_view kid) const;
    const std::map<std::string, crypto::RsaKey, std::less<>>& keys() const { return keys_; }

private:
    std::map<std::string, crypto::RsaKey, std::less<>> keys_;
};

/// Verifies `token`: three base64url parts; header `alg` exactly "RS256"; `kid` present and in
/// `keys`; valid signature; `exp` present and `now <= exp + skew`; `nbf`/`iat` not after `now + skew`;
/// `sub` present. Every failure is Errc::unauthenticated with a short reason (never the token).
Result<Claims> verify(std::string_view token, const KeySet& keys, std::chrono::system_clock::time_point now,
                      std::chrono::seconds skew = std::chrono::seconds(60));

/// The unverified `kid` of a token's header (to decide whether a key set must be refreshed).
std::optional<std::string> peek_kid(std::string_view token);

/// {"keys":[{"kty":"RSA","e":...,"kid":...,"n":...,"alg":"RS256","use":"sig"}, ...]}
boost::json::value to_jwks(const KeySet& keys);
/// Parses a JWKS document; RSA keys only, each with kid, n and e.
Result<KeySet> from_jwks(const boost::json::value& jwks);

}  // namespace lt::jwt
