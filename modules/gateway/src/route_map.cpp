#include "route_map.hpp"

#include <array>

namespace lt::gateway {

namespace {
constexpr std::array<PrefixRoute, 16> kPrefixes{{
    {"/api/v1/tokens/", "token", "token-service"},
    {"/v1/", "token", "token-service"},  // the OpenAI-compatible API (CONTRACT 37)
    {"/api/v1/auth/", "auth", "auth-server"},
    {"/oauth2/", "auth", "auth-server"},
    {"/api/v1/analytics/", "analytics", "analytics-service"},
    {"/api/v1/qwen/", "providers", "qwen-stub"},
    {"/api/v1/gemini/", "providers", "gemini-stub"},
    {"/api/v1/openai/", "providers", "openai-stub"},
    {"/actuator/", "kernel", "actuator"},
    {"/actuator", "kernel", "actuator"},
    {"/admin/", "kernel", "console"},  // the admin web console's static files (src/app/console_routes.cpp)
    {"/admin", "kernel", "console"},
    {"/eureka/", "registry", "registry"},
    {"/encrypt", "config", "config-server"},
    {"/decrypt", "config", "config-server"},
    // The config module's catch-all templates (/{application}/{profile}, /{document}): the router
    // prefers every literal route over them, so they only answer paths no other module owns.
    {"/{", "config", "config-server"},
}};
}  // namespace

const PrefixRoute* find_prefix(std::string_view path) {
    for (const auto& p : kPrefixes) {
        if (path.substr(0, p.prefix.size()) == p.prefix) return &p;
    }
    return nullptr;
}

bool is_public_path(std::string_view path) {
    static constexpr std::array<std::string_view, 7> kExact{
        "/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/api-keys/validate", "/oauth2/jwks",
        "/oauth2/token",         "/api/v1/tokens/status", "/api/v1/analytics/health"};
    for (auto p : kExact) {
        if (path == p) return true;
    }
    // The config module's catch-all templates: it answers 404 for an unknown application before it
    // asks for credentials (an unknown path is 404 with or without them), then needs ADMIN or a
    // cluster signature itself, which lets other processes fetch their configuration through here.
    if (is_catch_all(path)) return true;
    return path == "/actuator" || path.substr(0, 10) == "/actuator/";
}

bool is_catch_all(std::string_view route) {
    if (route.empty() || route == "/") return false;
    std::size_t i = 0;
    while (i < route.size()) {
        if (route[i] == '/') {
            ++i;
            continue;
        }
        if (route[i] != '{') return false;
        i = route.find('/', i);
        if (i == std::string_view::npos) break;
    }
    return true;
}

Result<void> verify_routes(const http::Router& router) {
    for (const auto& r : router.routes()) {
        const auto* p = find_prefix(r.path);
        if (!p || p->owner != r.owner) {
            return fail(Errc::internal, "route " + r.method + " " + r.path + " of module " + r.owner +
                                            " is outside the prefixes that module owns");
        }
    }
    return ok();
}

}  // namespace lt::gateway
