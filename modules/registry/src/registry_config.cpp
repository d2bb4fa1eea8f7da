#include "registry_config.hpp"

#include "lt/registry/registry.hpp"

namespace lt::registry {

void describe_config(config::Schema& schema) {
    using config::Type;
    schema.add({"registry.heartbeat-interval", Type::duration,
                "Registry clients renew each lease this often (Eureka's renewalIntervalInSecs).", 1});
    schema.add({"registry.lease-duration", Type::duration,
                "An instance not renewed for this long is evicted (unless it registered its own durationInSecs).", 1});
    schema.add({"registry.eviction-interval", Type::duration, "Period of the registry's eviction sweep.", 1});
}

RegistryConfig parse_config(const config::Config& cfg) {
    RegistryConfig c;
    c.heartbeat_interval = cfg.get_duration("registry.heartbeat-interval", c.heartbeat_interval);
    c.lease_duration = cfg.get_duration("registry.lease-duration", c.lease_duration);
    c.eviction_interval = cfg.get_duration("registry.eviction-interval", c.eviction_interval);
    return c;
}

}  // namespace lt::registry
