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
    bus.handle(kChat, [this](ChatRequest r, bus::Context c) { return bus_chat(std::move(r), std::move(c)); });
    bus.handle(kCompletion, [this](CompletionRequest r, bus::Context c) { return bus_complete(std::move(r), std::move(c)); });
    bus.handle(kModels, [this](bus::Empty, bus::Context) { return bus_models(); });
    bus.handle(kStreamOpen, [this](CompletionRequest r, bus::Context c) { return bus_stream_open(std::move(r), std::move(c)); });
    bus.handle(kStreamNext, [this](StreamRef r, bus::Context) { return bus_stream_next(std::move(r)); });
    bus.handle(kStreamClose, [this](StreamRef r, bus::Context) { return bus_stream_close(std::move(r)); });
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

asio::awaitable<Result<ChatReply>> ProvidersModule::bus_chat(ChatRequest req, bus::Context ctx) {
    auto op = service_.chat(std::move(req), std::move(ctx));
    co_return co_await std::move(op);
}

asio::awaitable<Result<CompletionReply>> ProvidersModule::bus_complete(CompletionRequest req, bus::Context ctx) {
    // The completion service still works on the JSON shapes (the OpenAI-compatible work owns it): the
    // glue converts until it takes the DTOs.
    auto request = boost::json::value_from(req).as_object();
    auto op = service_.complete(std::move(request), std::move(ctx));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(reply.error());
    auto decoded = bus::decode<CompletionReply>(boost::json::value(std::move(*reply)));
    if (!decoded) co_return fail(Errc::bad_gateway, "malformed completion reply: " + decoded.error().message);
    co_return std::move(*decoded);
}

asio::awaitable<Result<ModelsReply>> ProvidersModule::bus_models() {
    auto decoded =
        bus::decode<ModelsReply>(boost::json::object{{"providers", service_.models()}, {"settings", service_.settings()}});
    if (!decoded) co_return fail(Errc::internal, decoded.error().message);
    co_return std::move(*decoded);
}

asio::awaitable<Result<StreamOpenReply>> ProvidersModule::bus_stream_open(CompletionRequest req, bus::Context ctx) {
    // The stream service works on the JSON shapes: the glue converts until it takes the DTOs.
    auto request = boost::json::value_from(req).as_object();
    auto op = service_.open_stream(std::move(request), std::move(ctx));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(reply.error());
    auto decoded = bus::decode<StreamOpenReply>(boost::json::value(std::move(*reply)));
    if (!decoded) co_return fail(Errc::bad_gateway, "malformed stream open reply: " + decoded.error().message);
    co_return std::move(*decoded);
}

asio::awaitable<Result<StreamBatch>> ProvidersModule::bus_stream_next(StreamRef ref) {
    auto op = service_.sessions().next(std::move(ref.session));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(reply.error());
    auto decoded = bus::decode<StreamBatch>(boost::json::value(std::move(*reply)));
    if (!decoded) co_return fail(Errc::bad_gateway, "malformed stream batch: " + decoded.error().message);
    co_return std::move(*decoded);
}

asio::awaitable<Result<bus::Empty>> ProvidersModule::bus_stream_close(StreamRef ref) {
    auto op = service_.sessions().close(std::move(ref.session));
    co_await std::move(op);
    co_return bus::Empty{};
}

Result<std::unique_ptr<Module>> make_module(ModuleContext ctx) {
    auto cfg = parse_config(*ctx.config);
    if (!cfg) return fail(cfg.error());
    return std::unique_ptr<Module>(std::make_unique<ProvidersModule>(std::move(ctx), std::move(*cfg)));
}

}  // namespace lt::providers
