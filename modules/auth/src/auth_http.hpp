#pragma once
/// AuthHttp: the HTTP handlers of the auth module (routes in routes.cpp). They read identity only
/// from Request::ctx.principal, map JSON and form bodies to the services, and deliver the auth events
/// (awaiting every subscriber, not just queueing) before answering. Handlers run on I/O threads and
/// never block. Defined in user_http.cpp, api_key_http.cpp and oauth2_http.cpp.

#include <boost/asio/awaitable.hpp>

#include "api_key_service.hpp"
#include "auth_metrics.hpp"
#include "key_manager.hpp"
#include "login_limiter.hpp"
#include "lt/bus/bus.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/log.hpp"
#include "lt/http/message.hpp"
#include "oauth2_service.hpp"
#include "user_service.hpp"

namespace lt::auth {

/// What the handlers need; everything outlives the AuthHttp.
struct AuthHttpDeps {
    UserService* users = nullptr;
    ApiKeyService* api_keys = nullptr;
    OAuth2Service* oauth2 = nullptr;
    KeyManager* keys = nullptr;
    ports::SqlDatabase* db = nullptr;
    BlockingPool* blocking = nullptr;
    bus::Bus* bus = nullptr;
    Clock* clock = nullptr;
    AuthMetrics* metrics = nullptr;
    LoginLimiter* login_limiter = nullptr;  ///< failed-login limits (issue 15 item 5)
    Logger log;
};

/// Stateless apart from its dependencies: any I/O thread may call it concurrently.
class AuthHttp {
public:
    explicit AuthHttp(AuthHttpDeps deps) : d_(std::move(deps)) {}

    /// A1 POST /api/v1/auth/register.
    boost::asio::awaitable<http::Response> register_user(http::Request req);
    /// A2 POST /api/v1/auth/login.
    boost::asio::awaitable<http::Response> login(http::Request req);
    /// PUT (grant) and DELETE (remove) /api/v1/auth/users/{userId}/roles/{role} (ADMIN).
    boost::asio::awaitable<http::Response> set_role(http::Request req, bool grant);
    /// POST /api/v1/auth/keys/rotate (ADMIN).
    boost::asio::awaitable<http::Response> rotate_keys(http::Request req);

    /// A3 POST /api/v1/auth/api-keys.
    boost::asio::awaitable<http::Response> create_api_key(http::Request req);
    /// A4 GET /api/v1/auth/api-keys?userId=.
    boost::asio::awaitable<http::Response> list_api_keys(http::Request req);
    /// A5 DELETE /api/v1/auth/api-keys?userId=&apiKeyId=.
    boost::asio::awaitable<http::Response> delete_api_key(http::Request req);
    /// A6 GET /api/v1/auth/api-keys/validate.
    boost::asio::awaitable<http::Response> validate_api_key(http::Request req);

    /// A7 GET /oauth2/jwks.
    boost::asio::awaitable<http::Response> jwks(http::Request req);
    /// POST /oauth2/token (client_credentials).
    boost::asio::awaitable<http::Response> token(http::Request req);
    /// POST /oauth2/revoke.
    boost::asio::awaitable<http::Response> revoke(http::Request req);

    /// The error answer for a service failure; internal details are logged, not sent.
    http::Response failure(const Error& e, const http::Request& req) const;
    /// Delivers an event to every subscriber and waits until they handled it, so that its effect
    /// (e.g. a gateway dropping a revoked key) is visible before the answer. Failures are logged.
    template <class T>
    boost::asio::awaitable<void> announce(bus::Event<T> event, T body, bus::Context ctx) const {
        return announce_named(std::string(event.name), bus::Payload::of<T>(std::move(body)), std::move(ctx));
    }
    /// announce() by topic name.
    boost::asio::awaitable<void> announce_named(std::string topic, bus::Payload event, bus::Context ctx) const;

private:
    AuthHttpDeps d_;
};

}  // namespace lt::auth
