#pragma once
/// Contract of the registry module: Eureka's REST shape under /eureka/apps (JSON only).
///
///   POST   /eureka/apps/{app}                 register or replace an instance     → 204
///   PUT    /eureka/apps/{app}/{instanceId}    renew the lease (?status=UP|DOWN…)  → 200, 404 unknown
///   DELETE /eureka/apps/{app}/{instanceId}    cancel                              → 200, 404 unknown
///   GET    /eureka/apps                       every application                   → 200
///   GET    /eureka/apps/{app}                 one application                     → 200, 404
///
/// Writes need a cluster signature (lt/core/cluster.hpp) or an ADMIN principal; reads any
/// authenticated caller. App names are case-insensitive and shown upper-case. The helpers below
/// build and read the wire JSON so registry clients never write it by hand.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "lt/core/cluster.hpp"
#include "lt/core/config.hpp"
#include "lt/http/route_spec.hpp"
#include "lt/core/module.hpp"
#include "lt/core/result.hpp"

namespace lt::registry {

/// Path prefix of every registry route.
inline constexpr std::string_view kAppsPath = "/eureka/apps";

/// What a client registers (the fields a registry client needs to fill).
struct Registration {
    std::string app;          ///< module name, any case ("token"); shown upper-case
    std::string instance_id;  ///< unique per process and module ("127.0.0.1:8081:token")
    std::string base_url;     ///< "http://127.0.0.1:8081" (no trailing slash): homePageUrl
    std::string status = "UP";
    long long lease_renewal_seconds = 30;  ///< the client's heartbeat interval (leaseInfo.renewalIntervalInSecs)
    long long lease_duration_seconds = 0;  ///< leaseInfo.durationInSecs; 0: omitted, the registry's registry.lease-duration applies
};

/// The body of POST /eureka/apps/{app}: {"instance": {...}} with host, ip, port, URLs derived from
/// base_url.
boost::json::value registration_body(const Registration& r);

/// Reads the body of GET /eureka/apps into instances (module = lower-case app name, url =
/// homePageUrl without a trailing slash, up = status "UP"). Errc::invalid_argument on another shape.
Result<std::vector<cluster::Instance>> instances_from_apps(const boost::json::value& apps);

/// Public HTTP routes of the registry module (Eureka's REST shape; ADMIN or a cluster signature).
inline constexpr http::RouteSpec kRoutes[] = {
    {"GET", "/eureka/apps", http::Access::required, "registry"},
    {"GET", "/eureka/apps/{app}", http::Access::required, "registry"},
    {"POST", "/eureka/apps/{app}", http::Access::required, "registry"},
    {"PUT", "/eureka/apps/{app}/{instanceId}", http::Access::required, "registry"},
    {"DELETE", "/eureka/apps/{app}/{instanceId}", http::Access::required, "registry"},
};

/// Declares registry.heartbeat-interval, registry.lease-duration, registry.eviction-interval.
void describe_config(config::Schema& schema);

/// The module factory.
Result<std::unique_ptr<Module>> make_module(ModuleContext ctx);

}  // namespace lt::registry
