#pragma once
/// Contract of the analytics module: usage and purchase events (their envelopes are the token module's
/// contract, lt/token/token.hpp: kUsage, kPurchase) consumed from the event log (stored
/// idempotently by event id, with per-minute rollups) and the queries over them — usage, report,
/// anomalies, providers, users, trends. Public HTTP: /api/v1/analytics/**.

#include <memory>
#include <string_view>

#include "lt/core/config.hpp"
#include "lt/http/route_spec.hpp"
#include "lt/core/module.hpp"
#include "lt/core/result.hpp"

namespace lt::analytics {

/// Public HTTP routes of the analytics module (its health is public: CONTRACT 5).
inline constexpr http::RouteSpec kRoutes[] = {
    {"GET", "/api/v1/analytics/health", http::Access::optional, "analytics-service"},
    {"GET", "/api/v1/analytics/usage", http::Access::required, "analytics-service"},
    {"GET", "/api/v1/analytics/report", http::Access::required, "analytics-service"},
    {"GET", "/api/v1/analytics/anomalies", http::Access::required, "analytics-service"},
    {"GET", "/api/v1/analytics/providers", http::Access::required, "analytics-service"},
    {"GET", "/api/v1/analytics/users/{userId}", http::Access::required, "analytics-service"},
    {"GET", "/api/v1/analytics/trends", http::Access::required, "analytics-service"},
};

/// Declares analytics.* configuration keys.
void describe_config(config::Schema& schema);

/// The module factory. Needs ctx.usage, ctx.blocking, ctx.clock and (when consumption is enabled)
/// ctx.events.
Result<std::unique_ptr<Module>> make_module(ModuleContext ctx);

}  // namespace lt::analytics
