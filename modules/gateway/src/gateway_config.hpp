#pragma once
/// Typed configuration of the gateway module (gateway.*).

#include <chrono>
#include <cstddef>

#include "lt/core/config.hpp"
#include "lt/core/result.hpp"

namespace lt::gateway {

struct GatewayConfig {
    bool permit_all = false;                        ///< gateway.security.permit-all: no 401s at the edge
    bool api_key_enabled = true;                    ///< gateway.api-key.enabled
    std::chrono::seconds api_key_cache_ttl{120};    ///< gateway.api-key.cache-ttl-seconds
    std::size_t api_key_cache_max = 10000;          ///< gateway.api-key.cache-max-size
    std::size_t jwt_cache_max = 100000;             ///< gateway.jwt.cache-max-size
    std::chrono::seconds jwt_skew{60};              ///< gateway.jwt.clock-skew-seconds
    std::chrono::milliseconds auth_timeout{2000};   ///< gateway.auth-timeout: bus calls to the auth module
};

GatewayConfig parse_config(const config::Config& cfg);

}  // namespace lt::gateway
