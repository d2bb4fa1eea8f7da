// Live upstream streaming across processes (issue 12): gateway+registry+config+auth+analytics | token |
// providers. The providers process streams from a fake OpenAI-compatible upstream and the token process
// reads the stream session batch by batch over the signed internal bus (provider.completion.open/next/close).
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/fake_openai_upstream.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_http.hpp"

namespace {
using namespace std::chrono_literals;
constexpr const char* kSecret = "split-stream-test-secret-0123456789";

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
        try {
            if (f()) return true;
        } catch (const std::exception&) {
        }
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(50ms);
    }
}
}  // namespace

TEST_CASE("a live upstream stream crosses processes batch by batch and is charged exactly") {
    lt::test::FakeOpenAiUpstream up;
    lt::test::TempDir dir{"split-stream"};
    const auto gw = lt::test::free_port();
    const std::string registry = "http://127.0.0.1:" + std::to_string(gw);
    auto sets = [&](std::vector<std::string> extra) {
        std::vector<std::string> s{"registry.url=" + registry, "registry.fetch-interval=200ms",
                                   "registry.heartbeat-interval=1s", std::string("cluster.secret=") + kSecret,
                                   "providers.openai.type=openai-compatible",
                                   "providers.openai.base-url=" + up.base_url()};
        for (auto& e : extra) s.push_back(std::move(e));
        return s;
    };
    std::vector<std::unique_ptr<lt::test::ServerProcess>> procs;
    procs.push_back(std::make_unique<lt::test::ServerProcess>(
        dir.path() / "gateway", gw,
        lt::test::ServerSpec{sets({"gateway.rate-limit.enabled=false", "auth.bootstrap-admin.username=root",
                                   "auth.bootstrap-admin.password=root-password-1"}),
                             "gateway,registry,config,auth,analytics", {}, "warn"}));
    procs.push_back(std::make_unique<lt::test::ServerProcess>(dir.path() / "token", lt::test::free_port(),
                                                              lt::test::ServerSpec{sets({}), "token", {}, "warn"}));
    procs.push_back(std::make_unique<lt::test::ServerProcess>(dir.path() / "providers", lt::test::free_port(),
                                                              lt::test::ServerSpec{sets({}), "providers", {}, "warn"}));
    REQUIRE_MESSAGE(eventually([&] { return lt::test::http_call(gw, "GET", "/api/v1/tokens/status").status == 200; }, 15s),
                    "the gateway did not find the token process");
    auto root = lt::test::admin(gw);
    auto user = lt::test::signup(gw, "splitstream");
    lt::test::allocate(gw, root, "userId", user.id, 1000);
    const std::string body = R"({"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},)"
                             R"("max_tokens":50,"messages":[{"role":"user","content":"split chunks:8 delay:30"}]})";
    lt::test::HttpResult r;
    REQUIRE(eventually(
        [&] {
            r = lt::test::http_call(gw, "POST", "/v1/chat/completions", body, user.auth());
            return r.status == 200;  // until the token process finds the providers process
        },
        15s));
    CHECK(r.body.find("\"total_tokens\":19") != std::string::npos);  // 11 prompt + 8 completion, the upstream's
    CHECK(r.body.find("data: [DONE]") != std::string::npos);
    CHECK(r.body.find("\"content\":\" w7\"") != std::string::npos);
    auto q = lt::test::http_call(gw, "GET", "/api/v1/tokens/quota?userId=" + user.id + "&provider=openai", "", user.auth());
    REQUIRE(q.status == 200);
    CHECK(boost::json::parse(q.body).as_object().at("remainingTokens").as_int64() == 1000 - 19);
    while (!procs.empty()) procs.pop_back();
}
