#include <exception>

#include "lt/bus/bus.hpp"
#include "lt/core/config.hpp"
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
    auto lower = [](std::string_view s) {
        std::string o(s);
        for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return o;
    };
    auto n = lower(name);
    return n == "x-user-id" || n == "x-user-roles";
}

class GatewayModule final : public Module {
public:
    explicit GatewayModule(ModuleContext ctx) : ctx_(std::move(ctx)) {}

    std::string_view name() const override { return "gateway"; }

    asio::awaitable<Result<void>> start() override {
        if (auto v = verify_routes(*ctx_.routes); !v) co_return v;
        try {
            ctx_.server->start([this](http::Request r) { return dispatch(std::move(r)); });
        } catch (const std::exception& e) {
            co_return fail(Errc::unavailable, std::string("cannot listen: ") + e.what());
        }
        ctx_.log->info("listening port={}", ctx_.server->port());
        co_return ok();
    }

    asio::awaitable<void> stop() override { co_return; }

    /// Matches the route, then hands the request to its owner over the bus.
    asio::awaitable<http::Response> dispatch(http::Request req) {
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
        req.route = route;
        req.path_params = std::move(m.params);
        auto ctx = req.ctx;
        auto op = ctx_.bus->call(http::http_command(owner), http::to_json(req), std::move(ctx));
        auto reply = co_await std::move(op);
        http::Response res;
        if (!reply) {
            res = http::error_response(reply.error(), path);
        } else if (auto decoded = http::response_from_json(*reply)) {
            res = std::move(*decoded);
        } else {
            res = http::error_response(502, "bad reply from module " + owner, path);
        }
        res.route = std::move(route);
        co_return res;
    }

private:
    ModuleContext ctx_;
};

}  // namespace

void describe_config(config::Schema&) {}

Result<std::unique_ptr<Module>> make_module(ModuleContext ctx) {
    if (!ctx.server || !ctx.routes) return fail(Errc::internal, "gateway needs the server and the route table");
    return std::unique_ptr<Module>(std::make_unique<GatewayModule>(std::move(ctx)));
}

}  // namespace lt::gateway
