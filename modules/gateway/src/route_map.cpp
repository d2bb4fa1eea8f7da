#include "route_map.hpp"

#include <array>

namespace lt::gateway {

namespace {
constexpr std::array<PrefixRoute, 10> kPrefixes{{
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
    return path == "/actuator" || path.substr(0, 10) == "/actuator/";
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
