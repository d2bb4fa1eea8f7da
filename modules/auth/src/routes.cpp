// Every public route of the auth module, one line each.
#include "auth_module.hpp"
#include "lt/http/router.hpp"

namespace lt::auth {

void AuthModule::register_routes(http::Router& r) {
    r.add("auth", "POST", "/api/v1/auth/register", [this](http::Request q) { return http_.register_user(std::move(q)); });
    r.add("auth", "POST", "/api/v1/auth/login", [this](http::Request q) { return http_.login(std::move(q)); });
    r.add("auth", "POST", "/api/v1/auth/api-keys", [this](http::Request q) { return http_.create_api_key(std::move(q)); });
    r.add("auth", "GET", "/api/v1/auth/api-keys", [this](http::Request q) { return http_.list_api_keys(std::move(q)); });
    r.add("auth", "DELETE", "/api/v1/auth/api-keys", [this](http::Request q) { return http_.delete_api_key(std::move(q)); });
    r.add("auth", "GET", "/api/v1/auth/api-keys/validate", [this](http::Request q) { return http_.validate_api_key(std::move(q)); });
    r.add("auth", "PUT", "/api/v1/auth/users/{userId}/roles/{role}", [this](http::Request q) { return http_.set_role(std::move(q), true); });
    r.add("auth", "DELETE", "/api/v1/auth/users/{userId}/roles/{role}", [this](http::Request q) { return http_.set_role(std::move(q), false); });
    r.add("auth", "POST", "/api/v1/auth/keys/rotate", [this](http::Request q) { return http_.rotate_keys(std::move(q)); });
    r.add("auth", "GET", "/oauth2/jwks", [this](http::Request q) { return http_.jwks(std::move(q)); });
    r.add("auth", "POST", "/oauth2/token", [this](http::Request q) { return http_.token(std::move(q)); });
    r.add("auth", "POST", "/oauth2/revoke", [this](http::Request q) { return http_.revoke(std::move(q)); });
}

}  // namespace lt::auth
