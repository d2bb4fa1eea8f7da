#pragma once
/// KeyManager: the RS256 signing keys. The current key signs new tokens; retired keys stay published
/// (JWKS) until every token they signed has expired (retired_at + token lifetime + clock skew).
/// Keys live in auth_signing_keys, so tokens survive restarts. With a key-encryption key
/// (auth.jwt.key-encryption-key) the private PEM is stored as "enc:v1:" + base64url(AES-256-GCM of the
/// PEM, the kid as associated data); plaintext keys found at start are encrypted in place.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "lt/core/crypto.hpp"
#include "lt/core/jwt.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::auth {

struct SigningKeyRow;

/// Clock skew verifiers allow (CONTRACT.md item 12).
inline constexpr std::chrono::seconds kClockSkew{60};

/// Thread-safe: the key state is an immutable snapshot swapped under a mutex.
class KeyManager {
public:
    using TimePoint = std::chrono::system_clock::time_point;

    /// `issuer`: `iss` of issued tokens; `token_lifetime`: their lifetime; `key_bits`: size of
    /// generated keys.
    /// `key_encryption_key`: passphrase of the at-rest encryption ("" = store private keys in plaintext).
    KeyManager(std::string issuer, std::chrono::seconds token_lifetime, int key_bits,
               std::string_view key_encryption_key = {});

    /// Loads the stored keys; generates, stores and uses a first key when none is current; encrypts
    /// plaintext private keys when a key-encryption key is configured. Errc::invalid_argument naming
    /// auth.jwt.key-encryption-key when a stored key is encrypted and the configured key (or none)
    /// cannot decrypt it. Blocking (key generation, SQL): run on the blocking pool.
    Result<void> load_or_create(ports::SqlDatabase& db, TimePoint now);

    /// Generates a new current key and retires the previous one (its private part is erased).
    /// Blocking: run on the blocking pool. Returns the new kid.
    Result<std::string> rotate(ports::SqlDatabase& db, TimePoint now);

    /// Signs `claims` with the current key (its kid in the header). Any thread.
    Result<std::string> sign(const jwt::Claims& claims) const;

    /// A signed token for `sub` with `roles` (sorted here), `scope` and the subject's roles version
    /// (claim "rv"), issued at `now`, with a fresh jti. Any thread.
    Result<std::string> issue(std::string sub, std::vector<std::string> roles, std::string scope,
                              TimePoint now, std::int64_t roles_version = 0) const;

    /// Lifetime of issued tokens.
    std::chrono::seconds token_lifetime() const { return token_lifetime_; }

    /// Public keys that may have signed a still-valid token at `now`. Any thread.
    jwt::KeySet verification_keys(TimePoint now) const;

    /// {"keys": [...]} of verification_keys(now). Any thread.
    boost::json::value jwks(TimePoint now) const;

    /// Kid of the current key ("" before load_or_create). Any thread.
    std::string current_kid() const;

private:
    struct Published {
        std::string kid;
        crypto::RsaKey key;
        std::optional<TimePoint> retired_at;
    };
    struct State {
        std::string current_kid;
        crypto::RsaKey current;
        std::vector<Published> keys;
    };

    /// Reads the table into a new state (and deletes keys no token can need any more).
    Result<void> reload(ports::SqlDatabase& db, TimePoint now);
    bool still_needed(const Published& k, TimePoint now) const;
    std::shared_ptr<const State> snapshot() const;

    /// The stored form of `pem` for key `kid` (encrypted when a key-encryption key is configured).
    Result<std::string> protect(const std::string& kid, const std::string& pem) const;
    /// The PEM of a stored private key; Errc::invalid_argument naming the config key when it cannot.
    Result<std::string> unprotect(const std::string& kid, const std::string& stored) const;
    /// Encrypts plaintext private keys in place (start-up, when a key-encryption key is configured).
    Result<void> encrypt_plaintext_keys(ports::SqlDatabase& db);
    /// A fresh key row (its private part protected). Blocking.
    Result<SigningKeyRow> new_key(TimePoint now) const;

    std::string issuer_;
    std::optional<crypto::AeadKey> kek_;  ///< at-rest key of the private PEMs
    std::chrono::seconds token_lifetime_;
    int key_bits_;
    mutable std::mutex mutex_;            ///< guards state_
    std::shared_ptr<const State> state_;  ///< null before load_or_create
};

}  // namespace lt::auth
