#pragma once
/// The config module: glue between Spring Cloud Config's routes, ClusterGuard and ConfigRepository.

#include <memory>

#include "config_repository.hpp"
#include "lt/core/module.hpp"
#include "lt/http/cluster_guard.hpp"
#include "lt/http/message.hpp"

namespace lt::config_server {

class ConfigModule final : public Module {
public:
    ConfigModule(ModuleContext ctx, std::vector<std::filesystem::path> locations, PropertyCipher cipher);

    std::string_view name() const override { return "config"; }
    void register_routes(http::Router& router) override;
    boost::asio::awaitable<Result<void>> start() override;
    boost::asio::awaitable<void> stop() override;

    /// GET /{application}/{profile} and /{application}/{profile}/{label}.
    boost::asio::awaitable<http::Response> http_environment(http::Request req);
    /// GET /{document}: {application}-{profile}.yml|.yaml|.properties.
    boost::asio::awaitable<http::Response> http_document(http::Request req);
    /// POST /encrypt.
    boost::asio::awaitable<http::Response> http_encrypt(http::Request req);
    /// POST /decrypt.
    boost::asio::awaitable<http::Response> http_decrypt(http::Request req);

private:
    /// Finds the environment on the blocking pool (inline when the context has none).
    boost::asio::awaitable<Result<Environment>> find(std::string application, std::string profiles,
                                                     std::optional<std::string> label);
    /// The answer for a found (or not) environment: an unknown application is 404 before any
    /// credential check (an unknown path is 404 with or without credentials), then 401 / 403 unless
    /// ADMIN or signed; nullopt when the caller may read `env`.
    std::optional<http::Response> check_read(const http::Request& req, const Result<Environment>& env) const;
    std::optional<http::Response> require_admin(const http::Request& req) const;

    ModuleContext ctx_;
    std::shared_ptr<const ConfigRepository> repo_;
    http::ClusterGuard guard_;
};

}  // namespace lt::config_server
