#include "registry_module.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "lt/core/clock.hpp"
#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "lt/http/errors.hpp"
#include "lt/registry/registry.hpp"

namespace asio = boost::asio;

namespace lt::registry {

namespace {

asio::awaitable<void> sweep_loop(std::shared_ptr<RegistryModule::Sweep> sweep, std::shared_ptr<RegistryService> service,
                                 std::chrono::milliseconds every, Logger log) {
    while (!sweep->stopping) {
        sweep->timer.expires_after(every);
        boost::system::error_code ec;
        co_await sweep->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec || sweep->stopping) co_return;
        for (const auto& gone : service->evict()) log->info("registry lease expired instance={}", gone);
    }
}

}  // namespace

RegistryModule::RegistryModule(ModuleContext ctx, RegistryConfig config)
    : ctx_(ctx),
      config_(config),
      service_(std::make_shared<RegistryService>(*ctx.clock, config.lease_duration)),
      guard_("registry", http::cluster_secret(*ctx.config), *ctx.clock, ctx.metrics, ctx.log) {}


asio::awaitable<Result<void>> RegistryModule::start() {
    sweep_ = std::make_shared<Sweep>(*ctx_.io);
    asio::co_spawn(sweep_->strand, sweep_loop(sweep_, service_, config_.eviction_interval, ctx_.log), asio::detached);
    co_return ok();
}

asio::awaitable<void> RegistryModule::stop() {
    if (sweep_) {
        sweep_->stopping = true;
        auto sweep = sweep_;
        asio::dispatch(sweep->strand, [sweep] { sweep->timer.cancel(); });
    }
    co_return;
}

std::optional<http::Response> RegistryModule::authorize_write(const http::Request& req) const {
    http::Caller caller;
    return guard_.require_admin_or_signed(req, caller);
}

std::optional<http::Response> RegistryModule::authorize_read(const http::Request& req) const {
    http::Caller caller;
    return guard_.authenticate(req, caller);
}

asio::awaitable<http::Response> RegistryModule::http_register(http::Request req) {
    http::Caller caller;
    if (auto denied = guard_.authenticate(req, caller)) co_return *denied;
    auto body = parse_json(req.body);
    if (!body) co_return http::error_response(body.error(), req.path);
    if (auto v = RegistryService::validate(*body); !v) co_return http::error_response(v.error(), req.path);
    if (!caller.signed_call && !caller.admin) co_return http::error_response(403, "forbidden", req.path);
    auto app = std::string(req.path_param("app"));
    if (auto r = service_->register_instance(app, *body); !r) co_return http::error_response(r.error(), req.path);
    ctx_.log->info("registry instance registered app={} request_id={}", to_upper(app), req.ctx.request_id);
    co_return http::Response::empty(204);
}

asio::awaitable<http::Response> RegistryModule::http_renew(http::Request req) {
    if (auto denied = authorize_write(req)) co_return *denied;
    auto r = service_->renew(req.path_param("app"), req.path_param("instanceId"), req.query_param("status"));
    if (!r) co_return http::error_response(r.error(), req.path);
    co_return http::Response::empty(200);
}

asio::awaitable<http::Response> RegistryModule::http_cancel(http::Request req) {
    if (auto denied = authorize_write(req)) co_return *denied;
    auto r = service_->cancel(req.path_param("app"), req.path_param("instanceId"));
    if (!r) co_return http::error_response(r.error(), req.path);
    ctx_.log->info("registry instance cancelled app={} instance={} request_id={}", to_upper(req.path_param("app")),
                   req.path_param("instanceId"), req.ctx.request_id);
    co_return http::Response::empty(200);
}

asio::awaitable<http::Response> RegistryModule::http_list(http::Request req) {
    if (auto denied = authorize_read(req)) co_return *denied;
    co_return http::Response::json(200, service_->applications());
}

asio::awaitable<http::Response> RegistryModule::http_app(http::Request req) {
    if (auto denied = authorize_read(req)) co_return *denied;
    auto app = service_->application(req.path_param("app"));
    if (!app) co_return http::error_response(app.error(), req.path);
    co_return http::Response::json(200, *app);
}

Result<std::unique_ptr<Module>> make_module(ModuleContext ctx) {
    if (!ctx.clock || !ctx.config || !ctx.io) return fail(Errc::internal, "registry needs a clock, its config and an io_context");
    auto cfg = parse_config(*ctx.config);
    return std::unique_ptr<Module>(std::make_unique<RegistryModule>(std::move(ctx), cfg));
}

}  // namespace lt::registry
