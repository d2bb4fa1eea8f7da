#include <algorithm>
#include <exception>

#include "authenticator.hpp"
#include "edge_limiter.hpp"
#include "gateway_config.hpp"
#include "lt/bus/bus.hpp"
#include "lt/core/config.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/tracer.hpp"
#include "lt/gateway/gateway.hpp"
#include "lt/cluster/kernel_dispatcher.hpp"
#include "lt/http/errors.hpp"
#include "lt/http/router.hpp"
#include "lt/http/server.hpp"
#include "proxy.hpp"
#include "route_map.hpp"

namespace asio = boost::asio;

namespace lt::gateway {

namespace {

/// Headers only the gateway may set; a client's copies are dropped (CONTRACT.md item 6).
bool is_identity_header(std::string_view name) {
    auto eq = [&](std::string_view want) {
        return name.size() == want.size() && std::equal(name.begin(), name.end(), want.begin(), [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) == b;
               });
    };
    return eq("x-user-id") || eq("x-user-roles");
}

class GatewayModule final : public Module {
public:
    GatewayModule(ModuleContext ctx, GatewayConfig config)
        : ctx_(std::move(ctx)),
          config_(config),
          auth_(*ctx_.bus, *ctx_.clock, config, ctx_.log, ctx_.metrics),
          edge_(*ctx_.kv, parse_edge_config(*ctx_.config),
                ctx_.metrics ? &ctx_.metrics->counter("gateway_rate_limit_total",
                                                      "Edge rate limiter decisions per route", {"route", "result"})
                             : nullptr) {}

    std::string_view name() const override { return "gateway"; }

    void register_handlers(bus::Bus& bus) override { auth_.subscribe(bus); }

    asio::awaitable<Result<void>> start() override {
        if (auto v = verify_routes(*ctx_.routes); !v) co_return v;
        auto op = auth_.refresh_keys(bus::Context{});
        co_await std::move(op);
        // The kernel owns the listener; unsigned requests come here.
        ctx_.kernel->set_public_handler([this](http::Request r) { return dispatch(std::move(r)); });
        co_return ok();
    }

    asio::awaitable<void> stop() override { co_return; }

    /// dispatch_routed(), with errors of the OpenAI-compatible API (paths under /v1/) in OpenAI's shape
    /// (CONTRACT 38), the gateway's own 401/404/429 included.
    asio::awaitable<http::Response> dispatch(http::Request req) {
        bool openai = req.path.starts_with("/v1/");
        auto op = dispatch_routed(std::move(req));
        auto res = co_await std::move(op);
        if (openai) http::to_openai_error(res);
        co_return res;
    }

    /// Route matching (404/405), then authentication (401), then the owner over the bus.
    asio::awaitable<http::Response> dispatch_routed(http::Request req) {
        auto m = ctx_.routes->match(req.method, req.path);
        if (auto refused = http::routing_error(m, req.path)) co_return std::move(*refused);
        std::string route = m.route->path;
        std::string owner = m.route->owner;
        std::string path = req.path;
        std::erase_if(req.headers, [](const http::Header& h) { return is_identity_header(h.name); });
        req.ctx.principal.reset();

        if (owner != "kernel") {
            auto op = auth_.authenticate(std::string(req.header("X-Api-Key")), std::string(req.header("Authorization")),
                                         req.ctx);
            auto outcome = co_await std::move(op);
            bool open = config_.permit_all || is_public_path(route);
            if (outcome.kind == AuthOutcome::Kind::authenticated) {
                req.ctx.principal = std::move(outcome.principal);
            } else if (!open) {
                auto res = outcome.kind == AuthOutcome::Kind::rejected
                               ? http::error_response(outcome.status, outcome.message, path)
                               : http::error_response(401, "authentication required", path);
                if (res.status == 401) {
                    res.set_header("WWW-Authenticate", outcome.www_authenticate.empty() ? std::string("Bearer")
                                                                                        : outcome.www_authenticate);
                }
                res.route = route;
                co_return res;
            }
        }

        // Edge limit after authentication: unauthenticated requests to protected routes never count.
        EdgeDecision edge;
        if (owner != "kernel") {
            const auto* prefix = find_prefix(route);
            std::optional<std::string> user;
            if (req.ctx.principal) user = req.ctx.principal->user_id;
            auto op = edge_.check(std::string(prefix ? prefix->route_id : std::string_view(owner)), path,
                                  edge_.client_key(req, user), ctx_.clock->now());
            auto decided = co_await std::move(op);
            if (!decided) {
                auto res = http::error_response(decided.error(), path);
                res.route = route;
                co_return res;
            }
            edge = *decided;
            if (edge.blocked_path) {
                auto res = http::error_response(403, "path is blocked", path);
                res.route = route;
                co_return res;
            }
            if (!edge.allowed) {
                auto res = EdgeLimiter::rejection(edge, path);
                res.route = route;
                co_return res;
            }
        }

        req.route = route;
        req.path_params = std::move(m.params);
        // The owner's part of the request: its own span, parent of what the handler calls.
        Span span;
        if (ctx_.tracer && ctx_.tracer->enabled()) {
            span = ctx_.tracer->start(owner + " " + route, req.ctx.traceparent);
            req.ctx.traceparent = span.traceparent();
        }
        http::Response res;
        if (ctx_.kernel->hosts(owner)) {
            // A local route: its handler directly.
            try {
                auto op = m.route->handler(std::move(req));
                res = co_await std::move(op);
            } catch (const std::exception& e) {
                ctx_.log->error("handler threw route={} error={}", route, e.what());
                res = http::error_response(500, "internal error", path);
            }
        } else if (ctx_.forwarder) {
            // Hosted in another process: proxied to an instance of its owner.
            auto op = proxy(*ctx_.forwarder, owner, std::move(req));
            res = co_await std::move(op);
        } else {
            res = http::error_response(404, "not found", path);
        }
        // Consume and chat completions set their own X-RateLimit-* (the bucket); the edge adds its IETF
        // items (CONTRACT 27, 39).
        EdgeLimiter::apply_headers(res, edge, route == "/api/v1/tokens/consume" || route == "/v1/chat/completions");
        // A catch-all's 404 is an unknown path, counted as such (not under the catch-all's template).
        res.route = res.status == 404 && is_catch_all(route) ? std::string("NOT_FOUND") : std::move(route);
        co_return res;
    }

private:
    ModuleContext ctx_;
    GatewayConfig config_;
    Authenticator auth_;
    EdgeLimiter edge_;
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
