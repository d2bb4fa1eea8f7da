#pragma once
/// Authenticator: turns a request's credentials into a verified principal at the gateway.
/// - `Authorization: Bearer <jwt>`: RS256 verified locally against the auth module's JWKS (fetched
///   over the bus, refreshed on rotation or an unknown kid); verified tokens are cached by SHA-256
///   until they expire; revoked `jti`s are honoured until expiry. A token whose roles version (claim
///   "rv") is older than the subject's latest known one (role-change events and the JWKS reply) gets
///   the user's current roles from the auth module instead of its own (docs/security.md).
/// - `X-Api-Key`: validated by the auth module's bus command, cached (LRU + TTL); a revocation event
///   evicts the key at once.
/// Thread-safe: called concurrently from every I/O thread.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "gateway_config.hpp"
#include "lru_cache.hpp"
#include "lt/auth/auth.hpp"
#include "lt/bus/bus.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/jwt.hpp"
#include "lt/core/log.hpp"
#include "lt/core/metrics.hpp"

namespace lt::gateway {

struct AuthOutcome {
    enum class Kind { anonymous, authenticated, rejected };
    Kind kind = Kind::anonymous;
    bus::Principal principal;      ///< when authenticated
    int status = 401;              ///< when rejected: 401, or 503 when the auth module is unreachable
    std::string message;           ///< when rejected
    std::string www_authenticate;  ///< when rejected with 401
};

class Authenticator {
public:
    Authenticator(bus::Bus& bus, Clock& clock, GatewayConfig config, Logger log, MetricsRegistry* metrics);

    /// Subscribes to revocation, rotation and role-change events (before start).
    void subscribe(bus::Bus& bus);

    /// Fetches the JWKS and the revoked token ids from the auth module. Failure (auth not reachable)
    /// leaves the current keys; JWTs with unknown kids trigger another try.
    boost::asio::awaitable<void> refresh_keys(bus::Context ctx);

    /// Authenticates from the raw header values (empty = absent).
    boost::asio::awaitable<AuthOutcome> authenticate(std::string api_key, std::string authorization, bus::Context ctx);

private:
    struct KeyEntry {
        bus::Principal principal;
        std::string key_hash;
    };
    struct JwtEntry {
        bus::Principal principal;
        std::string jti;
        std::int64_t exp = 0;
        std::int64_t rv = 0;  ///< roles version `principal.roles` belong to
    };

    boost::asio::awaitable<AuthOutcome> by_api_key(std::string raw, bus::Context ctx);
    boost::asio::awaitable<AuthOutcome> by_jwt(std::string token, bus::Context ctx);
    boost::asio::awaitable<Result<void>> on_api_key_revoked(auth::ApiKeyRevoked event);
    boost::asio::awaitable<Result<void>> on_token_revoked(auth::TokenRevoked event);
    boost::asio::awaitable<Result<void>> on_keys_rotated(bus::Context ctx);
    boost::asio::awaitable<Result<void>> on_roles_changed(auth::UserRolesChanged event);
    bool is_revoked(const std::string& jti, std::int64_t now_s);
    /// The latest roles version known for `user` (0 when none).
    std::int64_t known_roles_version(const std::string& user);
    /// Records `version` for `user` when newer than the known one.
    void note_roles_version(const std::string& user, std::int64_t version);
    /// Replaces the roles of a stale token's entry with the user's current ones (auth.get_user.v1).
    boost::asio::awaitable<AuthOutcome> refresh_roles(JwtEntry entry, std::string hash,
                                                      std::chrono::steady_clock::time_point expires,
                                                      bus::Context ctx);
    std::shared_ptr<const jwt::KeySet> keys();

    bus::Bus& bus_;
    Clock& clock_;
    GatewayConfig config_;
    Logger log_;
    LruCache<KeyEntry> api_keys_;
    LruCache<JwtEntry> jwts_;
    std::mutex mutex_;  ///< guards keys_, revoked_, last_refresh_
    std::shared_ptr<const jwt::KeySet> keys_;
    std::unordered_map<std::string, std::int64_t> revoked_;  ///< jti → exp (epoch seconds)
    std::unordered_map<std::string, std::int64_t> roles_versions_;  ///< user id → latest roles version
    std::chrono::steady_clock::time_point last_refresh_{};
    /// Bumped by every revocation or role change: a validation that was in flight meanwhile is not
    /// cached (it may describe a key that is revoked now).
    std::atomic<std::uint64_t> key_epoch_{0};
    Counter* key_cache_hit_ = nullptr;
    Counter* key_cache_miss_ = nullptr;
    Counter* key_valid_ = nullptr;
    Counter* key_invalid_ = nullptr;
    Counter* jwt_cache_hit_ = nullptr;
    Counter* jwt_cache_miss_ = nullptr;
};

}  // namespace lt::gateway
