#include "config_module.hpp"

#include <boost/json.hpp>

#include "lt/config_server/config_server.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/config.hpp"
#include "lt/http/errors.hpp"

namespace asio = boost::asio;

namespace lt::config_server {

namespace {

http::Response text(int status, std::string body) {
    auto res = http::Response::empty(status);
    res.body = std::move(body);
    res.set_header("Content-Type", "text/plain; charset=utf-8");
    return res;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

void describe_config(config::Schema& schema) {
    schema.add({"config.server.search-locations", config::Type::string_list,
                "Directories of {application}[-{profile}].yml files the config module serves (first wins); empty: none."});
}

ConfigModule::ConfigModule(ModuleContext ctx, std::vector<std::filesystem::path> locations, PropertyCipher cipher)
    : ctx_(ctx),
      repo_(std::make_shared<const ConfigRepository>(std::move(locations), std::move(cipher), ctx.log)),
      guard_("config", http::cluster_secret(*ctx.config), *ctx.clock, ctx.metrics, ctx.log) {}


asio::awaitable<Result<void>> ConfigModule::start() { co_return ok(); }

asio::awaitable<void> ConfigModule::stop() { co_return; }

asio::awaitable<Result<Environment>> ConfigModule::find(std::string application, std::string profiles,
                                                        std::optional<std::string> label) {
    auto repo = repo_;
    auto run = [repo, application = std::move(application), profiles = std::move(profiles),
                label = std::move(label)] { return repo->find(application, profiles, label); };
    if (!ctx_.blocking) co_return run();
    auto op = ctx_.blocking->run(std::move(run));
    co_return co_await std::move(op);
}

std::optional<http::Response> ConfigModule::check_read(const http::Request& req, const Result<Environment>& env) const {
    if (!env && env.error().code == Errc::not_found) return http::error_response(404, "not found", req.path);
    http::Caller caller;
    if (auto r = guard_.authenticate(req, caller)) return r;
    if (!caller.signed_call && !caller.admin) return http::error_response(403, "forbidden", req.path);
    if (!env) return http::error_response(env.error(), req.path);
    return std::nullopt;
}

asio::awaitable<http::Response> ConfigModule::http_environment(http::Request req) {
    std::optional<std::string> label;
    if (auto l = req.path_param("label"); !l.empty()) label = std::string(l);
    auto op = find(std::string(req.path_param("application")), std::string(req.path_param("profile")), std::move(label));
    auto env = co_await std::move(op);
    if (auto denied = check_read(req, env)) co_return *denied;
    co_return http::Response::json(200, to_json(*env));
}

asio::awaitable<http::Response> ConfigModule::http_document(http::Request req) {
    std::string doc(req.path_param("document"));
    bool properties = false;
    std::string base;
    if (ends_with(doc, ".properties")) {
        properties = true;
        base = doc.substr(0, doc.size() - 11);
    } else if (ends_with(doc, ".yml")) {
        base = doc.substr(0, doc.size() - 4);
    } else if (ends_with(doc, ".yaml")) {
        base = doc.substr(0, doc.size() - 5);
    }
    // Spring's /{name}-{profiles}.yml: the profile is after the last '-'.
    auto dash = base.rfind('-');
    if (base.empty() || dash == std::string::npos || dash == 0 || dash + 1 == base.size()) {
        co_return http::error_response(404, "not found", req.path);
    }
    auto op = find(base.substr(0, dash), base.substr(dash + 1), std::nullopt);
    auto env = co_await std::move(op);
    if (auto denied = check_read(req, env)) co_return *denied;
    auto merged = merge(*env);
    co_return text(200, properties ? render_properties(merged) : render_yaml(merged));
}

std::optional<http::Response> ConfigModule::require_admin(const http::Request& req) const {
    http::Caller caller;
    if (auto r = guard_.authenticate(req, caller)) return r;
    if (!caller.admin) return http::error_response(403, "forbidden", req.path);
    return std::nullopt;
}

asio::awaitable<http::Response> ConfigModule::http_encrypt(http::Request req) {
    if (auto denied = require_admin(req)) co_return *denied;
    auto out = repo_->cipher().encrypt(req.body);
    if (!out) co_return http::error_response(out.error(), req.path);
    co_return text(200, std::move(*out));
}

asio::awaitable<http::Response> ConfigModule::http_decrypt(http::Request req) {
    if (auto denied = require_admin(req)) co_return *denied;
    auto out = repo_->cipher().decrypt(req.body);
    if (!out) co_return http::error_response(out.error(), req.path);
    co_return text(200, std::move(*out));
}

Result<std::unique_ptr<Module>> make_module(ModuleContext ctx) {
    if (!ctx.clock || !ctx.config) return fail(Errc::internal, "config needs a clock and its configuration");
    std::vector<std::filesystem::path> locations;
    for (const auto& l : ctx.config->get_list("config.server.search-locations")) {
        if (!l.empty()) locations.emplace_back(l);
    }
    for (const auto& l : locations) {
        std::error_code ec;
        if (!std::filesystem::is_directory(l, ec)) ctx.log->warn("config search location is not a directory path={}", l.string());
    }
    return std::unique_ptr<Module>(
        std::make_unique<ConfigModule>(std::move(ctx), std::move(locations), PropertyCipher::from_environment()));
}

}  // namespace lt::config_server
