#include "providers_module.hpp"

#include "lt/bus/bus.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/json.hpp"
#include "lt/http/errors.hpp"

namespace asio = boost::asio;

namespace lt::providers {

ProvidersModule::ProvidersModule(ModuleContext ctx, ProvidersConfig config)
    : ctx_(ctx), service_(std::move(config), ctx.http_client, *ctx.clock, ctx.log) {}

void ProvidersModule::register_handlers(bus::Bus& bus) {
    bus.handle(std::string(kChatCommand), [this](bus::Message m) { return bus_chat(std::move(m)); });
    bus.handle(std::string(kCompletionCommand), [this](bus::Message m) { return bus_complete(std::move(m)); });
    bus.handle(std::string(kModelsCommand), [this](bus::Message m) { return bus_models(std::move(m)); });
    bus.handle(std::string(kStreamOpenCommand), [this](bus::Message m) { return bus_stream_open(std::move(m)); });
    bus.handle(std::string(kStreamNextCommand), [this](bus::Message m) { return bus_stream_next(std::move(m)); });
    bus.handle(std::string(kStreamCloseCommand), [this](bus::Message m) { return bus_stream_close(std::move(m)); });
}

asio::awaitable<Result<void>> ProvidersModule::start() { co_return service_.init(); }

asio::awaitable<void> ProvidersModule::stop() { co_return; }

asio::awaitable<http::Response> ProvidersModule::http_chat(std::string provider, http::Request req) {
    auto body = parse_json_object(req.body);
    if (!body) co_return http::error_response(body.error(), req.path);
    auto op = service_.chat(ChatRequest{std::move(provider), std::move(*body)}, req.ctx);
    auto reply = co_await std::move(op);
    if (!reply) co_return http::error_response(reply.error(), req.path);
    co_return http::Response::json(200, reply->response);
}

asio::awaitable<Result<boost::json::value>> ProvidersModule::bus_chat(bus::Message msg) {
    auto req = chat_request_from_json(msg.body);
    if (!req) co_return fail(req.error());
    auto op = service_.chat(std::move(*req), std::move(msg.ctx));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(reply.error());
    co_return to_json(*reply);
}

asio::awaitable<Result<boost::json::value>> ProvidersModule::bus_complete(bus::Message msg) {
    if (!msg.body.is_object()) co_return fail(Errc::invalid_argument, "completion request must be an object");
    auto op = service_.complete(std::move(msg.body.as_object()), std::move(msg.ctx));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(reply.error());
    co_return boost::json::value(std::move(*reply));
}

asio::awaitable<Result<boost::json::value>> ProvidersModule::bus_models(bus::Message msg) {
    (void)msg;
    co_return boost::json::value(boost::json::object{{"providers", service_.models()}, {"settings", service_.settings()}});
}

asio::awaitable<Result<boost::json::value>> ProvidersModule::bus_stream_open(bus::Message msg) {
    if (!msg.body.is_object()) co_return fail(Errc::invalid_argument, "completion request must be an object");
    auto op = service_.open_stream(std::move(msg.body.as_object()), std::move(msg.ctx));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(reply.error());
    co_return boost::json::value(std::move(*reply));
}

namespace {
std::string session_of(const boost::json::value& body) {
    const auto* o = body.if_object();
    const auto* s = o ? o->if_contains("session") : nullptr;
    return s && s->is_string() ? std::string(s->as_string()) : std::string();
}
}  // namespace

asio::awaitable<Result<boost::json::value>> ProvidersModule::bus_stream_next(bus::Message msg) {
    auto op = service_.sessions().next(session_of(msg.body));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(reply.error());
    co_return boost::json::value(std::move(*reply));
}

asio::awaitable<Result<boost::json::value>> ProvidersModule::bus_stream_close(bus::Message msg) {
    auto op = service_.sessions().close(session_of(msg.body));
    co_await std::move(op);
    co_return boost::json::value(boost::json::object{});
}

Result<std::unique_ptr<Module>> make_module(ModuleContext ctx) {
    auto cfg = parse_config(*ctx.config);
    if (!cfg) return fail(cfg.error());
    return std::unique_ptr<Module>(std::make_unique<ProvidersModule>(std::move(ctx), std::move(*cfg)));
}

}  // namespace lt::providers
