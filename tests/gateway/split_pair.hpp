#pragma once
/// Two `leaky-tokens serve` processes for the gateway's split-mode tests: the gateway (with registry,
/// config, auth and analytics) and a token+providers process it proxies to.

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/accounts.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_http.hpp"

namespace lt::test {

inline constexpr const char* kSplitSecret = "gateway-split-test-secret-0123456789";

/// Polls `f` every 50 ms until it returns true or `limit` passed.
inline bool eventually(const std::function<bool()>& f, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
        try {
            if (f()) return true;
        } catch (const std::exception&) {
        }
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

struct SplitPair {
    TempDir dir{"gateway-split"};
    std::uint16_t gateway_port = free_port();
    std::unique_ptr<ServerProcess> gateway;
    std::unique_ptr<ServerProcess> token;

    /// `gateway_sets` / `token_sets`: extra --set overrides of each process.
    SplitPair(std::vector<std::string> gateway_sets, std::vector<std::string> token_sets) {
        const std::string registry = "http://127.0.0.1:" + std::to_string(gateway_port);
        std::vector<std::string> common{"registry.url=" + registry, "registry.fetch-interval=200ms",
                                        "registry.heartbeat-interval=1s", std::string("cluster.secret=") + kSplitSecret};
        auto g = with_admin(common);
        g.push_back("gateway.rate-limit.enabled=false");
        for (auto& s : gateway_sets) g.push_back(std::move(s));
        gateway = std::make_unique<ServerProcess>(dir.path() / "gateway", gateway_port,
                                                  ServerSpec{g, "gateway,registry,config,auth,analytics", {}, "info"});
        auto t = common;
        for (auto& s : token_sets) t.push_back(std::move(s));
        token = std::make_unique<ServerProcess>(dir.path() / "token", free_port(),
                                                ServerSpec{t, "token,providers", {}, "info"});
        bool found = eventually([&] { return http_call(gateway_port, "GET", "/api/v1/tokens/status").status == 200; },
                                std::chrono::seconds(10));
        if (!found) {
            MESSAGE("gateway log:\n" << tail(dir.path() / "gateway" / "server.log"));
            MESSAGE("token log:\n" << tail(dir.path() / "token" / "server.log"));
        }
        REQUIRE_MESSAGE(found, "the gateway did not find the token process in the registry");
    }
    ~SplitPair() {
        token.reset();
        gateway.reset();
    }

    /// The last 3000 bytes of a log file.
    static std::string tail(const std::filesystem::path& file) {
        std::ifstream in(file);
        std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        return all.size() > 3000 ? all.substr(all.size() - 3000) : all;
    }

    /// A metric line's value from the gateway's /actuator/prometheus (-1 when absent).
    double metric(const std::string& series) const {
        auto r = http_call(gateway_port, "GET", "/actuator/prometheus");
        auto pos = r.body.find("\n" + series + " ");
        if (pos == std::string::npos) return -1;
        return std::stod(r.body.substr(pos + series.size() + 2));
    }
};

}  // namespace lt::test
