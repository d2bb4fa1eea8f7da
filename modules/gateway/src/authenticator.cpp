#include "authenticator.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "lt/auth/auth.hpp"
#include "lt/core/crypto.hpp"
#include "lt/core/time.hpp"

namespace asio = boost::asio;

namespace lt::gateway {

namespace {
AuthOutcome rejected(int status, std::string message, std::string www) {
    AuthOutcome o;
    o.kind = AuthOutcome::Kind::rejected;
    o.status = status;
    o.message = std::move(message);
    o.www_authenticate = std::move(www);
    return o;
}

AuthOutcome authenticated(bus::Principal p) {
    AuthOutcome o;
    o.kind = AuthOutcome::Kind::authenticated;
    o.principal = std::move(p);
    return o;
}
}  // namespace

Authenticator::Authenticator(bus::Bus& bus, Clock& clock, GatewayConfig config, Logger log, MetricsRegistry* metrics)
    : bus_(bus),
      clock_(clock),
      config_(config),
      log_(std::move(log)),
      api_keys_(config.api_key_cache_max),
      jwts_(config.jwt_cache_max),
      keys_(std::make_shared<jwt::KeySet>()) {
    if (metrics) {
        auto& cache = metrics->counter("gateway_api_key_cache_total", "API key cache lookups at the gateway", {"outcome"});
        key_cache_hit_ = &cache.labels({"hit"});
        key_cache_miss_ = &cache.labels({"miss"});
        auto& val = metrics->counter("gateway_api_key_validation_total", "API key validations at the gateway", {"outcome"});
        key_valid_ = &val.labels({"success"});
        key_invalid_ = &val.labels({"failure"});
        auto& jc = metrics->counter("gateway_jwt_cache_total", "Verified-JWT cache lookups at the gateway", {"outcome"});
        jwt_cache_hit_ = &jc.labels({"hit"});
        jwt_cache_miss_ = &jc.labels({"miss"});
    }
}

void Authenticator::subscribe(bus::Bus& bus) {
    bus.subscribe(auth::kApiKeyRevoked, "gateway", [this](auth::ApiKeyRevoked e, bus::Context) { return on_api_key_revoked(std::move(e)); });
    bus.subscribe(auth::kTokenRevoked, "gateway", [this](auth::TokenRevoked e, bus::Context) { return on_token_revoked(std::move(e)); });
    bus.subscribe(auth::kKeysRotated, "gateway", [this](bus::Empty, bus::Context c) { return on_keys_rotated(std::move(c)); });
    bus.subscribe(auth::kUserRolesChanged, "gateway", [this](auth::UserRolesChanged e, bus::Context) { return on_roles_changed(std::move(e)); });
}

std::shared_ptr<const jwt::KeySet> Authenticator::keys() {
    std::lock_guard lock(mutex_);
    return keys_;
}

asio::awaitable<void> Authenticator::refresh_keys(bus::Context ctx) {
    const auto started = std::chrono::steady_clock::now();
    auto op = bus_.call(auth::kJwks, bus::Empty{}, ctx.with_timeout(config_.auth_timeout));
    auto reply = co_await std::move(op);
    if (!reply) {
        // Not counted as a refresh: in split mode the auth process may not be known yet at start, and
        // the next JWT with an unknown kid must try again instead of waiting out the rate limit.
        log_->warn("jwks fetch failed error={}", reply.error().message);
        co_return;
    }
    {
        std::lock_guard lock(mutex_);
        last_refresh_ = started;
    }
    auto set = jwt::from_jwks(boost::json::object{{"keys", std::move(reply->keys)}});
    if (!set) {
        log_->warn("jwks parse failed error={}", set.error().message);
        co_return;
    }
    std::lock_guard lock(mutex_);
    keys_ = std::make_shared<jwt::KeySet>(std::move(*set));
    for (const auto& e : reply->revoked) {
        if (!e.jti.empty()) revoked_[e.jti] = e.exp;
    }
    for (const auto& e : reply->roles_versions) {
        if (e.user_id.empty()) continue;
        auto& known = roles_versions_[e.user_id];
        known = std::max(known, e.roles_version);
    }
}

std::int64_t Authenticator::known_roles_version(const std::string& user) {
    std::lock_guard lock(mutex_);
    auto it = roles_versions_.find(user);
    return it == roles_versions_.end() ? 0 : it->second;
}

void Authenticator::note_roles_version(const std::string& user, std::int64_t version) {
    std::lock_guard lock(mutex_);
    auto& known = roles_versions_[user];
    known = std::max(known, version);
}

asio::awaitable<AuthOutcome> Authenticator::refresh_roles(JwtEntry entry, std::string hash,
                                                         std::chrono::steady_clock::time_point expires,
                                                         bus::Context ctx) {
    auto op = bus_.call(auth::kGetUser, auth::GetUserRequest{entry.principal.user_id}, ctx.with_timeout(config_.auth_timeout));
    auto reply = co_await std::move(op);
    if (!reply) {
        if (reply.error().code == Errc::not_found) {
            co_return rejected(401, "user no longer exists", "Bearer error=\"invalid_token\"");
        }
        log_->warn("roles lookup unavailable error={}", reply.error().message);
        co_return rejected(503, "authentication service unavailable", "");
    }
    std::vector<std::string> roles = std::move(reply->roles);
    const std::int64_t version = reply->roles_version;
    std::sort(roles.begin(), roles.end());
    // Never more than the token was issued with: a role granted later needs a new token.
    std::vector<std::string> kept;
    for (const auto& r : roles) {
        if (std::binary_search(entry.principal.roles.begin(), entry.principal.roles.end(), r)) kept.push_back(r);
    }
    entry.principal.roles = std::move(kept);
    entry.rv = version;
    note_roles_version(entry.principal.user_id, version);
    if (version >= known_roles_version(entry.principal.user_id)) jwts_.put(hash, entry, expires);
    co_return authenticated(entry.principal);
}

asio::awaitable<AuthOutcome> Authenticator::authenticate(std::string api_key, std::string authorization, bus::Context ctx) {
    api_key = trim(api_key);
    if (!api_key.empty() && config_.api_key_enabled) {
        auto op = by_api_key(std::move(api_key), std::move(ctx));
        co_return co_await std::move(op);
    }
    std::string_view auth = authorization;
    // "Bearer " with nothing after it (a shell variable that was never set) names the missing token
    // rather than the scheme, which is right.
    if (const auto trimmed = trim(auth); to_lower(trimmed) == "bearer") {
        co_return rejected(401, "authentication required: the Bearer token is empty", "Bearer");
    }
    if (auth.size() > 7 && to_lower(auth.substr(0, 7)) == "bearer ") {
        std::string credential = trim(auth.substr(7));
        // The OpenAI SDKs send an API key as a Bearer token: a value that is not a JWT (three
        // dot-separated parts) is validated as a leaky API key (CONTRACT 37).
        if (config_.api_key_enabled && std::count(credential.begin(), credential.end(), '.') != 2) {
            auto op = by_api_key(std::move(credential), std::move(ctx));
            co_return co_await std::move(op);
        }
        auto op = by_jwt(std::move(credential), std::move(ctx));
        co_return co_await std::move(op);
    }
    if (!auth.empty()) co_return rejected(401, "unsupported authorization scheme", "Bearer");
    co_return AuthOutcome{};
}

asio::awaitable<AuthOutcome> Authenticator::by_api_key(std::string raw, bus::Context ctx) {
    auto hash = crypto::sha256_hex(raw);
    auto now = std::chrono::steady_clock::now();
    if (auto hit = api_keys_.get(hash, now)) {
        if (key_cache_hit_) key_cache_hit_->inc();
        co_return authenticated(hit->principal);
    }
    if (key_cache_miss_) key_cache_miss_->inc();
    const auto epoch = key_epoch_.load();
    auto op = bus_.call(auth::kVerifyKey, auth::VerifyKeyRequest{raw}, ctx.with_timeout(config_.auth_timeout));
    auto reply = co_await std::move(op);
    if (!reply) {
        if (reply.error().code == Errc::unauthenticated) {
            if (key_invalid_) key_invalid_->inc();
            co_return rejected(401, reply.error().message, "ApiKey");
        }
        log_->warn("api key validation unavailable error={}", reply.error().message);
        co_return rejected(503, "authentication service unavailable", "");
    }
    auto& key = reply;
    if (key_valid_) key_valid_->inc();
    bus::Principal p{key->user_id, key->roles, "api_key"};
    auto expires = now + config_.api_key_cache_ttl;
    if (key->expires_at) {
        if (auto at = parse_rfc3339(*key->expires_at)) {
            auto left = *at - clock_.now();
            auto key_expiry = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
            if (key_expiry < expires) expires = key_expiry;
        }
    }
    if (key_epoch_.load() == epoch) api_keys_.put(hash, KeyEntry{p, hash}, expires);
    co_return authenticated(std::move(p));
}

bool Authenticator::is_revoked(const std::string& jti, std::int64_t now_s) {
    std::lock_guard lock(mutex_);
    auto it = revoked_.find(jti);
    if (it == revoked_.end()) return false;
    if (it->second + config_.jwt_skew.count() < now_s) {
        revoked_.erase(it);  // expired anyway: the exp check rejects it from now on
        return false;
    }
    return true;
}

asio::awaitable<AuthOutcome> Authenticator::by_jwt(std::string token, bus::Context ctx) {
    const std::string bad = "Bearer error=\"invalid_token\"";
    auto now_wall = clock_.now();
    auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now_wall.time_since_epoch()).count();
    auto hash = crypto::sha256_hex(token);
    auto now = std::chrono::steady_clock::now();
    if (auto hit = jwts_.get(hash, now)) {
        if (jwt_cache_hit_) jwt_cache_hit_->inc();
        if (hit->exp + config_.jwt_skew.count() < now_s) co_return rejected(401, "invalid token", bad);
        if (is_revoked(hit->jti, now_s)) co_return rejected(401, "token revoked", bad);
        if (!hit->principal.user_id.empty() && hit->rv < known_roles_version(hit->principal.user_id)) {
            auto left = std::chrono::seconds(hit->exp + config_.jwt_skew.count() - now_s);
            auto op = refresh_roles(*hit, hash, now + left, std::move(ctx));
            co_return co_await std::move(op);
        }
        co_return authenticated(hit->principal);
    }
    if (jwt_cache_miss_) jwt_cache_miss_->inc();
    auto set = keys();
    auto kid = jwt::peek_kid(token);
    if (kid && !set->find(*kid)) {
        bool refresh;
        {
            std::lock_guard lock(mutex_);
            refresh = std::chrono::steady_clock::now() - last_refresh_ > std::chrono::seconds(1);
        }
        if (refresh) {
            auto op = refresh_keys(ctx);
            co_await std::move(op);
            set = keys();
        }
    }
    auto claims = jwt::verify(token, *set, now_wall, config_.jwt_skew);
    if (!claims) co_return rejected(401, "invalid token", bad);
    if (is_revoked(claims->jti, now_s)) co_return rejected(401, "token revoked", bad);
    auto roles = claims->roles;
    std::sort(roles.begin(), roles.end());
    bus::Principal p{claims->sub, std::move(roles), claims->scope.empty() ? "jwt" : "client_credentials"};
    auto left = std::chrono::seconds(claims->exp + config_.jwt_skew.count() - now_s);
    JwtEntry entry{p, claims->jti, claims->exp, claims->rv};
    if (claims->scope.empty() && claims->rv < known_roles_version(claims->sub)) {
        // Issued before the user's latest role change: its roles are stale.
        auto op = refresh_roles(std::move(entry), hash, now + left, std::move(ctx));
        co_return co_await std::move(op);
    }
    jwts_.put(hash, std::move(entry), now + left);
    co_return authenticated(std::move(p));
}

asio::awaitable<Result<void>> Authenticator::on_api_key_revoked(auth::ApiKeyRevoked event) {
    const auto& hash = event.key_hash;
    ++key_epoch_;
    if (!hash.empty()) api_keys_.erase(hash);
    co_return ok();
}

asio::awaitable<Result<void>> Authenticator::on_token_revoked(auth::TokenRevoked event) {
    const auto& jti = event.jti;
    if (!jti.empty()) {
        std::lock_guard lock(mutex_);
        revoked_[jti] = event.exp != 0 ? event.exp : std::numeric_limits<std::int64_t>::max() / 2;
    }
    co_return ok();
}

asio::awaitable<Result<void>> Authenticator::on_keys_rotated(bus::Context ctx) {
    auto op = refresh_keys(std::move(ctx));
    co_await std::move(op);
    co_return ok();
}

asio::awaitable<Result<void>> Authenticator::on_roles_changed(auth::UserRolesChanged event) {
    const auto& user = event.user_id;
    ++key_epoch_;
    if (!user.empty()) {
        note_roles_version(user, event.roles_version);
        // API keys carry their owner's current roles; JWTs carry the roles they were issued with.
        api_keys_.erase_if([&](const KeyEntry& e) { return e.principal.user_id == user; });
    }
    co_return ok();
}

}  // namespace lt::gateway
