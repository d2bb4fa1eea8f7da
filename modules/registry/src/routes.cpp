// Every route of the registry module, one line each (Eureka's REST shape).
#include "lt/http/router.hpp"
#include "registry_module.hpp"

namespace lt::registry {

void RegistryModule::register_routes(http::Router& r) {
    r.add("registry", "GET", "/eureka/apps", [this](http::Request q) { return http_list(std::move(q)); });
    r.add("registry", "GET", "/eureka/apps/{app}", [this](http::Request q) { return http_app(std::move(q)); });
    r.add("registry", "POST", "/eureka/apps/{app}", [this](http::Request q) { return http_register(std::move(q)); });
    r.add("registry", "PUT", "/eureka/apps/{app}/{instanceId}", [this](http::Request q) { return http_renew(std::move(q)); });
    r.add("registry", "DELETE", "/eureka/apps/{app}/{instanceId}", [this](http::Request q) { return http_cancel(std::move(q)); });
}

}  // namespace lt::registry
