// Every route of the config module, one line each. The three all-parameter templates are catch-alls:
// the router prefers every literal route of every module over them (include/lt/http/router.hpp).
#include "config_module.hpp"
#include "lt/http/router.hpp"

namespace lt::config_server {

void ConfigModule::register_routes(http::Router& r) {
    r.add("config", "POST", "/encrypt", [this](http::Request q) { return http_encrypt(std::move(q)); });
    r.add("config", "POST", "/decrypt", [this](http::Request q) { return http_decrypt(std::move(q)); });
    r.add("config", "GET", "/{application}/{profile}", [this](http::Request q) { return http_environment(std::move(q)); });
    r.add("config", "GET", "/{application}/{profile}/{label}", [this](http::Request q) { return http_environment(std::move(q)); });
    r.add("config", "GET", "/{document}", [this](http::Request q) { return http_document(std::move(q)); });
}

}  // namespace lt::config_server
