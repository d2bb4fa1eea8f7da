#pragma once
/// KeyManager: the RS256 signing keys. The current key signs new tokens; retired keys stay published
/// (JWKS) until every token they signed has expired (retired_at + token lifetime + clock skew).
/// Keys live in auth_signing_keys, so tokens survive restarts.

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

/// Clock skew verifiers allow (CONTRACT.md item 12).
inline constexpr std::chrono::seconds kClockSkew{60};

/// Thread-safe: the key state is an immutable snapshot swapped under a mutex.
class KeyManager {
public:
    using TimePoint = std::chrono::system_clock::time_point;

    /// `issuer`: `iss` of issued tokens; `token_lifetime`: their lifetime; `key_bits`: size of
    /// generated keys.
    KeyManager(std::string issuer, std::chrono::seconds token_lifetime, int key_bits);

    /// Loads the stored keys; generates, stores and uses a first key when none is current. Blocking
    /// (key generation, SQL): run on the blocking pool.
    Result<void> load_or_create(ports::SqlDatabase& db, TimePoint now);

    /// Generates a new current key and retires the previous one (its private part is erased).
    /// Blocking: run on the blocking pool. Returns the new kid.
    Result<std::string> rotate(ports::SqlDatabase& db, TimePoint now);

    /// Signs `claims` with the current key (its kid in the header). Any thread.
    Result<std::string> sign(const jwt::Claims& claims) const;

    /// A signed token for `sub` with `roles` (sorted here) and `scope`, issued at `now`, with a fresh
    /// jti. Any thread.
    Result<std::string> issue(std::string sub, std::vector<std::string> roles, std::string scope,
                              TimePoint now) const;

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

    std::string issuer_;
    std::chrono::seconds token_lifetime_;
    int key_bits_;
    mutable std::mutex mutex_;            ///< guards state_
    std::shared_ptr<const State> state_;  ///< null before load_or_create
};

}  // namespace lt::auth
