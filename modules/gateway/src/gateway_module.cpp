#include <algorithm>
#include <exception>

#include "authenticator.hpp"
#include "edge_limiter.hpp"
#include "gateway_config.hpp"
#include "lt/bus/bus.hpp"
#include "lt/core/config.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/metrics.hpp"
#include "lt/gateway/gateway.hpp"
#include "lt/http/bus_binding.hpp"
#include "lt/http/errors.hpp"
#include "lt/http/router.hpp"
#include "lt/http/server.hpp"
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
        try {
            ctx_.server->start([this](http::Request r) { return dispatch(std::move(r)); });
        } catch (const std::exception& e) {
            co_return fail(Errc::unavailable, std::string("cannot listen: ") + e.what());
        }
        ctx_.log->info("listening port={}", ctx_.server->port());
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

    /// The owner's answer: over the bus, except for the OpenAI-compatible API, whose handler runs
    /// in-process when this process hosts it so that a streamed Response (SSE) reaches the server.
    asio::awaitable<http::Response> call_owner(const http::Route& route, http::Request req) {
        std::string path = req.path;
        if (route.path.starts_with("/v1/") && route.handler) {
            auto op = route.handler(std::move(req));
            co_return co_await std::move(op);
        }
        auto ctx = req.ctx;
        auto op = ctx_.bus->call(http::http_command(route.owner), http::to_json(req), std::move(ctx));
        auto reply = co_await std::move(op);
        if (!reply) co_return http::error_response(reply.error(), path);
        if (auto decoded = http::response_from_json(*reply)) co_return std::move(*decoded);
        co_return http::error_response(502, "bad reply from module " + route.owner, path);
    }

    /// Route matching (404/405), then authentication (401), then the owner over the bus.
    asio::awaitable<http::Response> dispatch_routed(http::Request req) {
        auto m = ctx_.routes->match(req.method, req.path);
        if (m.kind == http::MatchKind::not_found) {
            auto res = http::error_response(404, "not found", req.path);
            res.route = "NOT_FOUND";
            co_return res;
        }
        if (m.kind == http::MatchKind::method_not_allowed) {
            auto res = http::error_response(405, "method not allowed", req.path);
            res.set_header("Allow", m.allow);
            res.route = "METHOD_NOT_ALLOWED";
            co_return res;
        }
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
        auto op = call_owner(*m.route, std::move(req));
        http::Response res = co_await std::move(op);
        // Consume and chat completions set their own X-RateLimit-* (the bucket); the edge adds its IETF
        // items (CONTRACT 27, 39).
        EdgeLimiter::apply_headers(res, edge, route == "/api/v1/tokens/consume" || route == "/v1/chat/completions");
        res.route = std::move(route);
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
    if (!ctx.server || !ctx.routes || !ctx.bus || !ctx.clock || !ctx.kv) {
        return fail(Errc::internal, "gateway needs the server, the route table, the bus, a clock and a key-value store");
    }
    auto cfg = parse_config(*ctx.config);
    return std::unique_ptr<Module>(std::make_unique<GatewayModule>(std::move(ctx), cfg));
}

}  // namespace lt::gateway
