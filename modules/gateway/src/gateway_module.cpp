#include "authenticator.hpp"
#include "edge_limiter.hpp"
#include "gateway_config.hpp"
#include "lt/bus/bus.hpp"
#include "lt/core/actuator.hpp"
#include "lt/core/config.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/tracer.hpp"
#include "lt/gateway/gateway.hpp"
#include "lt/cluster/kernel_dispatcher.hpp"
#include "lt/http/errors.hpp"
#include "lt/http/router.hpp"
#include "lt/http/server.hpp"
#include "filters.hpp"
#include "resilience.hpp"

namespace asio = boost::asio;

namespace lt::gateway {

namespace {

class GatewayModule final : public Module {
public:
    GatewayModule(ModuleContext ctx, GatewayConfig config)
        : ctx_(std::move(ctx)),
          config_(config),
          auth_(*ctx_.bus, *ctx_.clock, config, ctx_.log, ctx_.metrics),
          edge_(*ctx_.kv, parse_edge_config(*ctx_.config),
                ctx_.metrics ? &ctx_.metrics->counter("gateway_rate_limit_total",
                                                      "Edge rate limiter decisions per route", {"route", "result"})
                             : nullptr),
          resilience_(parse_resilience_config(*ctx_.config), ctx_.metrics),
          route_(*ctx_.routes, [k = ctx_.kernel](std::string_view owner) { return k->hosts(owner); }),
          authn_([this](std::string key, std::string authorization,
                        bus::Context c) { return auth_.authenticate(std::move(key), std::move(authorization), std::move(c)); },
                 config.permit_all),
          edge_limit_(edge_, *ctx_.clock),
          resilient_(resilience_),
          dispatch_(ctx_.forwarder, ctx_.log, ctx_.tracer) {
        // The gateway's pipeline, in order. A new filter is one line here.
        filters_ = {
            &headers_,     // X-Correlation-Id + security headers; OpenAI error shape under /v1/
            &route_,       // 404 / 405; identity headers dropped
            &authn_,       // 401 on protected routes
            &edge_limit_,  // 429 per (route, client); rate-limit headers
            &resilient_,   // remote routes: circuit breaker, bulkhead, timeout, retry; 503 fallback
            &dispatch_,    // local handler or proxy to the owner's process
        };
    }

    std::string_view name() const override { return "gateway"; }

    void register_handlers(bus::Bus& bus) override { auth_.subscribe(bus); }

    asio::awaitable<Result<void>> start() override {
        auto op = auth_.refresh_keys(bus::Context{});
        co_await std::move(op);
        // The kernel owns the listener; unsigned requests come here.
        ctx_.kernel->set_public_handler([this](http::Request r) { return run_chain(filters_, std::move(r)); });
        co_return ok();
    }

    asio::awaitable<void> stop() override { co_return; }

    /// Refreshable: gateway.rate-limit.* and feature.flags.gateway.rate-limiting (the edge limiter).
    std::vector<std::string> refresh(const config::Config& next, const std::vector<std::string>& changed) override {
        std::vector<std::string> applied;
        for (const auto& k : changed) {
            if (k.starts_with("gateway.rate-limit.") || k == "feature.flags.gateway.rate-limiting") applied.push_back(k);
        }
        if (!applied.empty()) edge_.update(parse_edge_config(next));
        return applied;
    }

private:
    ModuleContext ctx_;
    GatewayConfig config_;
    Authenticator auth_;
    EdgeLimiter edge_;
    ResilienceRegistry resilience_;
    ResponseHeadersFilter headers_;
    RouteFilter route_;
    AuthFilter authn_;
    EdgeLimitFilter edge_limit_;
    ResilienceFilter resilient_;
    DispatchFilter dispatch_;
    std::vector<Filter*> filters_;
};

}  // namespace

Result<std::unique_ptr<Module>> make_module(ModuleContext ctx) {
    if (!ctx.kernel || !ctx.routes || !ctx.bus || !ctx.clock || !ctx.kv) {
        return fail(Errc::internal,
                    "gateway needs the kernel dispatcher, the route table, the bus, a clock and a key-value store");
    }
    auto cfg = parse_config(*ctx.config);
    return std::unique_ptr<Module>(std::make_unique<GatewayModule>(std::move(ctx), cfg));
}

}  // namespace lt::gateway
