#pragma once
/// Typed configuration of the registry module (registry.*).

#include <chrono>

#include "lt/core/config.hpp"

namespace lt::registry {

struct RegistryConfig {
    std::chrono::milliseconds heartbeat_interval{30000};  ///< client side: how often a lease is renewed
    std::chrono::milliseconds lease_duration{90000};      ///< an instance not renewed this long is evicted
    std::chrono::milliseconds eviction_interval{1000};    ///< period of the eviction sweep
};

/// Reads registry.* (validated by the schema; start-up only).
RegistryConfig parse_config(const config::Config& cfg);

}  // namespace lt::registry
