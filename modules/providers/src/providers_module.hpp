#pragma once
/// The providers module: glue between the route table, the bus and ProviderService.

#include <memory>

#include "lt/core/module.hpp"
#include "lt/http/message.hpp"
#include "stub_provider.hpp"

namespace lt::providers {

class ProvidersModule final : public Module {
public:
    ProvidersModule(ModuleContext ctx, ProvidersConfig config);

    std::string_view name() const override { return "providers"; }
    void register_routes(http::Router& router) override;
    void register_handlers(bus::Bus& bus) override;
    boost::asio::awaitable<Result<void>> start() override;
    boost::asio::awaitable<void> stop() override;
    /// Refreshable: every providers.<name>.* key but ca-file (is_refreshable_key), applied at once as
    /// one new settings snapshot. A configuration the module rejects is logged and applies nothing.
    std::vector<std::string> refresh(const config::Config& next, const std::vector<std::string>& changed) override;

    /// POST /api/v1/{provider}/chat for one provider.
    boost::asio::awaitable<http::Response> http_chat(std::string provider, http::Request req);
    /// Bus command kChat (provider.chat.v1).
    boost::asio::awaitable<Result<ChatReply>> bus_chat(ChatRequest req, bus::Context ctx);
    /// Bus commands kCompletion and kModels (DTOs in lt/providers/providers.hpp).
    boost::asio::awaitable<Result<CompletionReply>> bus_complete(CompletionRequest req, bus::Context ctx);
    boost::asio::awaitable<Result<ModelsReply>> bus_models();
    /// Bus commands kStreamOpen / kStreamNext / kStreamClose (DTOs in lt/providers/providers.hpp).
    boost::asio::awaitable<Result<StreamOpenReply>> bus_stream_open(CompletionRequest req, bus::Context ctx);
    boost::asio::awaitable<Result<StreamBatch>> bus_stream_next(StreamRef ref);
    boost::asio::awaitable<Result<bus::Empty>> bus_stream_close(StreamRef ref);

private:
    ModuleContext ctx_;
    ProviderService service_;
};

}  // namespace lt::providers
