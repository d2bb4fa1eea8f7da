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

std::vector<std::string> ProvidersModule::refresh(const config::Config& next, const std::vector<std::string>& changed) {
    std::vector<std::string> mine;
    for (const auto& k : changed) {
        if (is_refreshable_key(k)) mine.push_back(k);
    }
    if (mine.empty()) return {};
    auto parsed = parse_config(next);
    if (!parsed) {
        if (ctx_.log) ctx_.log->error("providers settings not refreshed: {}", parsed.error().message);
        return {};
    }
    // A CA file is loaded at start only: the running one stays until a restart.
    const auto running = service_.snapshot();
    for (auto& [name, s] : parsed->providers) {
        auto it = running->providers.find(name);
        s.ca_file = it == running->providers.end() ? std::nullopt : it->second.settings.ca_file;
    }
    if (auto applied = service_.apply(std::move(*parsed)); !applied) {
        if (ctx_.log) ctx_.log->error("providers settings not refreshed: {}", applied.error().message);
        return {};
    }
    return mine;
}

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
    auto op = service_.complete(std::move(req), std::move(ctx));
    co_return co_await std::move(op);
}

asio::awaitable<Result<ModelsReply>> ProvidersModule::bus_models() { co_return service_.models(); }

asio::awaitable<Result<StreamOpenReply>> ProvidersModule::bus_stream_open(CompletionRequest req, bus::Context ctx) {
    auto op = service_.open_stream(std::move(req), std::move(ctx));
    co_return co_await std::move(op);
}

asio::awaitable<Result<StreamBatch>> ProvidersModule::bus_stream_next(StreamRef ref) {
    auto op = service_.sessions().next(std::move(ref.session));
    co_return co_await std::move(op);
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
