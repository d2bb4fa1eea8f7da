#pragma once
/// The registry module: glue between the /eureka/apps routes, ClusterGuard and RegistryService, plus
/// the eviction sweep.

#include <atomic>
#include <memory>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "lt/core/module.hpp"
#include "lt/http/cluster_guard.hpp"
#include "lt/http/message.hpp"
#include "registry_config.hpp"
#include "registry_service.hpp"

namespace lt::registry {

class RegistryModule final : public Module {
public:
    RegistryModule(ModuleContext ctx, RegistryConfig config);

    std::string_view name() const override { return "registry"; }
    void register_routes(http::Router& router) override;
    boost::asio::awaitable<Result<void>> start() override;
    boost::asio::awaitable<void> stop() override;

    /// The table (tests and in-process callers). Thread-safe.
    RegistryService& service() { return *service_; }

    /// POST /eureka/apps/{app}.
    boost::asio::awaitable<http::Response> http_register(http::Request req);
    /// PUT /eureka/apps/{app}/{instanceId}.
    boost::asio::awaitable<http::Response> http_renew(http::Request req);
    /// DELETE /eureka/apps/{app}/{instanceId}.
    boost::asio::awaitable<http::Response> http_cancel(http::Request req);
    /// GET /eureka/apps.
    boost::asio::awaitable<http::Response> http_list(http::Request req);
    /// GET /eureka/apps/{app}.
    boost::asio::awaitable<http::Response> http_app(http::Request req);

    /// State of the eviction sweep, shared with its coroutine so a late wake-up never touches a
    /// destroyed module. The timer is used only on `strand`.
    struct Sweep {
        explicit Sweep(boost::asio::io_context& io) : strand(boost::asio::make_strand(io)), timer(strand) {}
        boost::asio::strand<boost::asio::io_context::executor_type> strand;
        boost::asio::steady_timer timer;
        std::atomic<bool> stopping{false};
    };

private:
    std::optional<http::Response> authorize_write(const http::Request& req) const;
    std::optional<http::Response> authorize_read(const http::Request& req) const;

    ModuleContext ctx_;
    RegistryConfig config_;
    std::shared_ptr<RegistryService> service_;
    http::ClusterGuard guard_;
    std::shared_ptr<Sweep> sweep_;
};

}  // namespace lt::registry
