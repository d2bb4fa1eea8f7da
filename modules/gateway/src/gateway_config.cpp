#include "gateway_config.hpp"

#include "edge_limiter.hpp"
#include "resilience.hpp"
#include "lt/gateway/gateway.hpp"

namespace lt::gateway {

void describe_config(config::Schema& s) {
    using config::Type;
    s.add({"gateway.security.permit-all", Type::boolean,
           "Let requests without credentials through to every route (the modules still check the principal)."});
    s.add({"gateway.api-key.enabled", Type::boolean, "Accept X-Api-Key credentials at the gateway."});
    s.add({"gateway.api-key.cache-ttl-seconds", Type::integer,
           "How long a validated API key is cached (revocation evicts it at once).", 1});
    s.add({"gateway.api-key.cache-max-size", Type::integer, "Validated API keys kept (least recently used evicted).", 1});
    s.add({"gateway.jwt.cache-max-size", Type::integer, "Verified JWTs kept until their expiry (keyed by SHA-256).", 1});
    s.add({"gateway.jwt.clock-skew-seconds", Type::integer, "Allowed clock skew for exp/nbf/iat.", 0, 60});
    s.add({"gateway.auth-timeout", Type::duration, "Deadline of a call to the auth module (API key validation, JWKS).", 1});
    describe_edge_config(s);
    describe_resilience_config(s);
}

GatewayConfig parse_config(const config::Config& c) {
    GatewayConfig g;
    g.permit_all = c.get_bool("gateway.security.permit-all", g.permit_all);
    g.api_key_enabled = c.get_bool("gateway.api-key.enabled", g.api_key_enabled);
    g.api_key_cache_ttl = std::chrono::seconds(c.get_int("gateway.api-key.cache-ttl-seconds", g.api_key_cache_ttl.count()));
    g.api_key_cache_max = static_cast<std::size_t>(c.get_int("gateway.api-key.cache-max-size", static_cast<std::int64_t>(g.api_key_cache_max)));
    g.jwt_cache_max = static_cast<std::size_t>(c.get_int("gateway.jwt.cache-max-size", static_cast<std::int64_t>(g.jwt_cache_max)));
    g.jwt_skew = std::chrono::seconds(c.get_int("gateway.jwt.clock-skew-seconds", g.jwt_skew.count()));
    g.auth_timeout = c.get_duration("gateway.auth-timeout", g.auth_timeout);
    return g;
}

}  // namespace lt::gateway
