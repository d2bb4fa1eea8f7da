#pragma once
/// The auth module: glue between the route table, the bus and the auth services.

#include <memory>

#include "api_key_service.hpp"
#include "auth_config.hpp"
#include "auth_http.hpp"
#include "auth_metrics.hpp"
#include "key_manager.hpp"
#include "login_limiter.hpp"
#include "password_pool.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/module.hpp"
#include "oauth2_service.hpp"
#include "user_service.hpp"

namespace lt::auth {

class AuthModule final : public Module {
public:
    /// `ctx` must provide sql, blocking, bus, clock and routes (make_module checks).
    AuthModule(ModuleContext ctx, AuthConfig config);

    std::string_view name() const override { return "auth"; }
    void register_routes(http::Router& router) override;
    void register_handlers(bus::Bus& bus) override;
    /// Migrates, loads (or creates) the signing key and applies the admin bootstrap, all on the
    /// blocking pool.
    boost::asio::awaitable<Result<void>> start() override;
    boost::asio::awaitable<void> stop() override;

    /// Bus command kVerifyKey (auth.verify_key.v1).
    boost::asio::awaitable<Result<VerifiedKey>> bus_verify_key(VerifyKeyRequest req);
    /// Bus command kJwks (auth.jwks.v1).
    boost::asio::awaitable<Result<JwksReply>> bus_jwks();
    /// Bus command kGetUser (auth.get_user.v1).
    boost::asio::awaitable<Result<UserInfo>> bus_get_user(GetUserRequest req);

    /// The HTTP handlers (for tests that call them without the router).
    AuthHttp& http() { return http_; }
    /// bcrypt's pool (for tests).
    const PasswordPool& password_pool() const { return hashing_; }
    /// The signing keys (for tests).
    const KeyManager& keys() const { return keys_; }

private:
    /// start()'s blocking part.
    Result<void> start_blocking();
    /// Fills auth_users.username_key for rows from before it existed. Blocking.
    Result<void> fill_username_keys();

    ModuleContext ctx_;
    AuthConfig config_;
    std::unique_ptr<MetricsRegistry> own_metrics_;  ///< only when the context has no registry
    AuthMetrics metrics_;
    PasswordPool hashing_;  ///< bcrypt's own bounded pool (not the kernel's blocking pool)
    LoginLimiter login_limiter_;
    KeyManager keys_;
    UserService users_;
    ApiKeyService api_keys_;
    OAuth2Service oauth2_;
    AuthHttp http_;
};

}  // namespace lt::auth
