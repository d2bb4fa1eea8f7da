#pragma once
/// The gateway's filters, in the order GatewayModule lists them (see filter_chain.hpp). Each takes its
/// collaborators in the constructor (functions where a test substitutes them), so it can be tested
/// alone with a terminal filter after it.

#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "authenticator.hpp"
#include "edge_limiter.hpp"
#include "filter_chain.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/log.hpp"
#include "lt/core/tracer.hpp"
#include "resilience.hpp"

namespace lt::cluster {
class Forwarder;
}

namespace lt::gateway {

/// Security headers and X-Correlation-Id (CONTRACT 4) on every answer of the chain, and errors under
/// /v1/ in OpenAI's shape (CONTRACT 38). The server sets the same headers on answers it gives itself
/// (413, 503 overload) and leaves a response that carries them alone.
class ResponseHeadersFilter final : public Filter {
public:
    std::string_view name() const override { return "response-headers"; }
    boost::asio::awaitable<http::Response> apply(Exchange& ex, Chain& chain) override;
};

/// Route match (404 / 405 with Allow), then removes client-sent identity headers (CONTRACT 6).
class RouteFilter final : public Filter {
public:
    /// `hosted(owner)`: whether the owner runs in this process.
    RouteFilter(const http::Router& routes, std::function<bool(std::string_view)> hosted)
        : routes_(routes), hosted_(std::move(hosted)) {}
    std::string_view name() const override { return "route"; }
    boost::asio::awaitable<http::Response> apply(Exchange& ex, Chain& chain) override;

private:
    const http::Router& routes_;
    std::function<bool(std::string_view)> hosted_;
};

/// JWT / API-key authentication by the route's declared access (lt/http/route_spec.hpp): 401 on
/// `required` routes without valid credentials; `optional` (public) routes pass whatever the credentials
/// (CONTRACT 5); `anonymous` routes (/actuator/**, the console's files) read none. POST /actuator/refresh
/// is `optional`: its handler checks for an ADMIN principal.
class AuthFilter final : public Filter {
public:
    using Authenticate = std::function<boost::asio::awaitable<AuthOutcome>(std::string api_key,
                                                                           std::string authorization, bus::Context)>;
    AuthFilter(Authenticate authenticate, bool permit_all)
        : authenticate_(std::move(authenticate)), permit_all_(permit_all) {}
    std::string_view name() const override { return "auth"; }
    boost::asio::awaitable<http::Response> apply(Exchange& ex, Chain& chain) override;

private:
    Authenticate authenticate_;
    bool permit_all_;
};

/// The edge rate limiter per (route, client) (CONTRACT 27), after authentication so that refused
/// credentials never count; adds its headers to the answer.
class EdgeLimitFilter final : public Filter {
public:
    EdgeLimitFilter(EdgeLimiter& edge, Clock& clock) : edge_(edge), clock_(clock) {}
    std::string_view name() const override { return "edge-limit"; }
    boost::asio::awaitable<http::Response> apply(Exchange& ex, Chain& chain) override;

private:
    EdgeLimiter& edge_;
    Clock& clock_;
};

/// Per-route circuit breaker, bulkhead, timeout and retry for routes hosted in another process
/// (resilience.hpp). Open circuit or full bulkhead → 503 fallback (CONTRACT 1 body with `service`);
/// failures are no answer, a timeout, or 500/503/504 from the downstream; a downstream's 502 is its
/// own answer (e.g. `provider call failed`) and passes through as a success of the route.
class ResilienceFilter final : public Filter {
public:
    explicit ResilienceFilter(ResilienceRegistry& registry) : registry_(registry) {}
    std::string_view name() const override { return "resilience"; }
    boost::asio::awaitable<http::Response> apply(Exchange& ex, Chain& chain) override;
    /// The fallback answer of `route_id` (503).
    static http::Response fallback(std::string_view route_id, std::string_view path, std::string_view reason);

private:
    ResilienceRegistry& registry_;
};

/// Terminal: a local route's handler directly, a remote one through the proxy (proxy.hpp).
class DispatchFilter final : public Filter {
public:
    /// `forwarder` may be null (one process); `tracer` may be null (no spans).
    DispatchFilter(cluster::Forwarder* forwarder, Logger log, Tracer* tracer)
        : forwarder_(forwarder), log_(std::move(log)), tracer_(tracer) {}
    std::string_view name() const override { return "dispatch"; }
    boost::asio::awaitable<http::Response> apply(Exchange& ex, Chain& chain) override;

private:
    cluster::Forwarder* forwarder_;
    Logger log_;
    Tracer* tracer_;
};

}  // namespace lt::gateway
