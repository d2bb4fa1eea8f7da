// Every public route of the token module, one line each.
#include "lt/http/router.hpp"
#include "token_module.hpp"

namespace lt::token {

void TokenModule::register_routes(http::Router& r) {
    r.add("token", "GET", "/api/v1/tokens/status", [this](http::Request q) { return status(std::move(q)); });
    r.add("token", "GET", "/api/v1/tokens/quota", [this](http::Request q) { return get_quota(std::move(q)); });
    r.add("token", "PUT", "/api/v1/tokens/quota", [this](http::Request q) { return set_quota(std::move(q)); });
    r.add("token", "GET", "/api/v1/tokens/quota/org", [this](http::Request q) { return get_org_quota(std::move(q)); });
    r.add("token", "POST", "/api/v1/tokens/consume", [this](http::Request q) { return consume(std::move(q)); });
    r.add("token", "POST", "/api/v1/tokens/purchase", [this](http::Request q) { return purchase(std::move(q)); });
    r.add("token", "GET", "/api/v1/tokens/purchase/{sagaId}", [this](http::Request q) { return get_purchase(std::move(q)); });
    r.add("token", "POST", "/api/v1/tokens/orgs", [this](http::Request q) { return create_org(std::move(q)); });
    r.add("token", "GET", "/api/v1/tokens/orgs/{orgId}/members", [this](http::Request q) { return list_members(std::move(q)); });
    r.add("token", "PUT", "/api/v1/tokens/orgs/{orgId}/members/{userId}", [this](http::Request q) { return put_member(std::move(q)); });
    r.add("token", "DELETE", "/api/v1/tokens/orgs/{orgId}/members/{userId}", [this](http::Request q) { return delete_member(std::move(q)); });
    r.add("token", "GET", "/v1/models", [this](http::Request q) { return list_models(std::move(q)); });
    r.add("token", "POST", "/v1/chat/completions", [this](http::Request q) { return chat_completions(std::move(q)); });
}

}  // namespace lt::token
