#pragma once
/// The kernel's own endpoints under /actuator/**: health (+ liveness, readiness), info, prometheus.

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lt/http/router.hpp"

namespace lt {
class MetricsRegistry;

/// Module states reported by /actuator/health: "STARTING", "UP", "DOWN", "STOPPING".
struct ModuleStatus {
    std::string name;
    std::string status;
};

struct ActuatorInfo {
    std::string version;
    std::vector<std::string> modules;   ///< hosted modules
    std::vector<std::string> adapters;  ///< compiled-in adapters
    std::string profile;                ///< active profile ("" = embedded defaults)
    /// Current module states; must be thread-safe.
    std::function<std::vector<ModuleStatus>()> statuses;
    /// Current states of the stores this process uses ("db", "redis", "kafka": "UP" or "DOWN");
    /// may be empty; must be thread-safe. A DOWN store makes health and readiness answer 503.
    std::function<std::vector<ModuleStatus>()> stores;
    /// Value of the `application` label on every metric sample; empty: no such label.
    std::string application;
};

/// POST /actuator/refresh (registered by the application, src/app/config_refresh.cpp): ADMIN or a
/// cluster-signed call; the gateway authenticates it although it is a kernel route.
inline constexpr std::string_view kRefreshPath = "/actuator/refresh";

/// Adds the /actuator routes (owner "kernel") to `router`, and to `metrics` the process collector,
/// `store_up{store}` (1/0 per network store of `info.stores`) and the `application` label.
void register_actuator_routes(http::Router& router, MetricsRegistry& metrics, ActuatorInfo info);

}  // namespace lt
