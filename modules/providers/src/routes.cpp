// Every public route of the providers module, one line each.
#include "lt/http/router.hpp"
#include "providers_module.hpp"

namespace lt::providers {

void ProvidersModule::register_routes(http::Router& r) {
    r.add("providers", "POST", "/api/v1/qwen/chat", [this](http::Request q) { return http_chat("qwen", std::move(q)); });
    r.add("providers", "POST", "/api/v1/gemini/chat", [this](http::Request q) { return http_chat("gemini", std::move(q)); });
    r.add("providers", "POST", "/api/v1/openai/chat", [this](http::Request q) { return http_chat("openai", std::move(q)); });
}

}  // namespace lt::providers
