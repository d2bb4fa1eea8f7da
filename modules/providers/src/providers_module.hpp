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

    /// POST /api/v1/{provider}/chat for one provider.
    boost::asio::awaitable<http::Response> http_chat(std::string provider, http::Request req);
    /// Bus command provider.chat.v1.
    boost::asio::awaitable<Result<boost::json::value>> bus_chat(bus::Message msg);
    /// provider.completion.v1 and provider.models.v1 (shapes in lt/providers/providers.hpp).
    boost::asio::awaitable<Result<boost::json::value>> bus_complete(bus::Message msg);
    boost::asio::awaitable<Result<boost::json::value>> bus_models(bus::Message msg);
    /// provider.completion.open.v1 / .next.v1 / .close.v1 (shapes in lt/providers/providers.hpp).
    boost::asio::awaitable<Result<boost::json::value>> bus_stream_open(bus::Message msg);
    boost::asio::awaitable<Result<boost::json::value>> bus_stream_next(bus::Message msg);
    boost::asio::awaitable<Result<boost::json::value>> bus_stream_close(bus::Message msg);

private:
    ModuleContext ctx_;
    ProviderService service_;
};

}  // namespace lt::providers
