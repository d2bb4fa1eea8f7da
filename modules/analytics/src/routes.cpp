// Every public route of the analytics module, one line each.
#include "analytics_module.hpp"
#include "lt/http/router.hpp"

namespace lt::analytics {

void AnalyticsModule::register_routes(http::Router& r) {
    r.add("analytics", "GET", "/api/v1/analytics/health", [this](http::Request q) { return health(std::move(q)); });
    r.add("analytics", "GET", "/api/v1/analytics/usage", [this](http::Request q) { return usage(std::move(q)); });
    r.add("analytics", "GET", "/api/v1/analytics/report", [this](http::Request q) { return report(std::move(q)); });
    r.add("analytics", "GET", "/api/v1/analytics/anomalies", [this](http::Request q) { return anomalies(std::move(q)); });
    r.add("analytics", "GET", "/api/v1/analytics/providers", [this](http::Request q) { return providers(std::move(q)); });
    r.add("analytics", "GET", "/api/v1/analytics/users/{userId}", [this](http::Request q) { return user(std::move(q)); });
    r.add("analytics", "GET", "/api/v1/analytics/trends", [this](http::Request q) { return trends(std::move(q)); });
}

}  // namespace lt::analytics
