#include "remote_config.hpp"

#include <chrono>
#include <cstdlib>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "lt/config_server/config_server.hpp"
#include "lt/core/cluster.hpp"
#include "lt/core/crypto.hpp"
#include "lt/http/client.hpp"

namespace lt::app {

namespace {

constexpr auto kTimeout = std::chrono::seconds(5);

boost::asio::awaitable<Result<http::ClientResponse>> get(http::Client& client, http::Url url, http::ClientRequest req) {
    auto op = client.request(url.host, url.port, std::move(req), kTimeout);
    co_return co_await std::move(op);
}

}  // namespace

Result<std::vector<std::string>> fetch_remote_config(const config::Config& cfg, const std::string& profile) {
    const auto base = cfg.get_string("config.url");
    auto url = http::parse_url(base);
    if (!url) return fail(Errc::invalid_argument, "config.url: " + url.error().message);
    std::string secret = cfg.get_string("cluster.secret");
    if (secret.empty()) {
        if (const char* env = std::getenv("LEAKY_CLUSTER_SECRET"); env != nullptr) secret = env;
    }
    if (secret.empty()) return fail(Errc::invalid_argument, "config.url needs cluster.secret (or LEAKY_CLUSTER_SECRET)");

    http::ClientRequest req;
    req.method = "GET";
    req.target = url->base_path + "/leaky-tokens/" + (profile.empty() ? std::string("default") : profile);
    for (auto& [name, value] : cluster::sign(secret, req.method, req.target, std::nullopt, "", crypto::sha256_hex(""),
                                             std::chrono::system_clock::now())) {
        req.headers.push_back({std::move(name), std::move(value)});
    }
    const auto where = base + req.target.substr(url->base_path.size());
    boost::asio::io_context io;
    http::Client client(io.get_executor());
    auto fut = boost::asio::co_spawn(io, get(client, *url, std::move(req)), boost::asio::use_future);
    io.run();
    auto res = fut.get();
    if (!res) return fail(Errc::unavailable, "config.url: GET " + where + " failed: " + res.error().message);
    if (res->status != 200) {
        return fail(Errc::unavailable, "config.url: GET " + where + " answered " + std::to_string(res->status));
    }
    boost::system::error_code ec;
    auto env = boost::json::parse(res->body, ec);
    if (ec) return fail(Errc::unavailable, "config.url: GET " + where + " answered no JSON");
    auto props = config_server::properties_from_environment(env);
    if (!props) return fail(Errc::unavailable, "config.url: " + props.error().message);
    std::vector<std::string> out;
    for (auto& [key, value] : *props) out.push_back(key + "=" + value);
    return out;
}

}  // namespace lt::app
