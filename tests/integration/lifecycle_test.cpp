// Start-up and graceful shutdown of the whole application.
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include "support/test_app.hpp"
#include "support/test_http.hpp"

TEST_CASE("SIGTERM during load finishes the in-flight requests and then stops") {
    lt::test::TestApp app(lt::test::open_gateway({"providers.openai.latency=400ms"}));
    const auto port = app.port();
    std::atomic<int> ok{0}, other{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 8; ++i) {
        clients.emplace_back([&] {
            try {
                auto r = lt::test::http_call(port, "POST", "/api/v1/openai/chat", R"({"prompt":"slow"})");
                (r.status == 200 ? ok : other)++;
            } catch (...) {
                other++;
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    std::raise(SIGTERM);
    for (auto& t : clients) t.join();
    CHECK(ok == 8);
    CHECK(other == 0);
    CHECK(app.app().wait() == 0);
    // The listener is closed: a new connection is refused.
    CHECK_THROWS(lt::test::TestConnection(port));
}

TEST_CASE("an unknown module name is a start-up error") {
    lt::config::LoadOptions load;
    load.read_env = false;
    auto cfg = lt::config::load(lt::app::full_schema(), load);
    REQUIRE(cfg);
    lt::app::AppOptions opts;
    opts.modules = {"providers", "nope"};
    opts.handle_signals = false;
    auto a = lt::app::App::create(std::move(*cfg), opts);
    REQUIRE_FALSE(a);
    CHECK(a.error().message.find("nope") != std::string::npos);
}
