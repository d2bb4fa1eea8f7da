// The stub providers through the gateway, and the upstream (base-url) path over real HTTP.
#include <doctest/doctest.h>

#include <chrono>

#include <boost/json.hpp>

#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::TestApp;

TEST_CASE("stub chat through the gateway answers the original shape plus deterministic usage") {
    TestApp app(lt::test::open_gateway());
    for (const auto& [provider, message] : {std::pair{"qwen", "Stubbed Qwen response"},
                                            std::pair{"gemini", "Stubbed Gemini response"},
                                            std::pair{"openai", "Stubbed OpenAI response"}}) {
        auto path = std::string("/api/v1/") + provider + "/chat";
        auto r = lt::test::http_call(app.port(), "POST", path, R"({"prompt":"Hello there"})");
        REQUIRE(r.status == 200);
        auto body = boost::json::parse(r.body).as_object();
        CHECK(body.at("provider") == provider);
        CHECK(body.at("message") == message);
        CHECK(body.at("received").as_object().at("prompt") == "Hello there");
        CHECK(body.at("id").as_string().size() == 36);
        CHECK(body.at("created").as_string().back() == 'Z');
        auto usage = body.at("usage").as_object();
        CHECK(usage.at("promptTokens").as_int64() == 3);  // ceil(11 chars / 4)
        CHECK(usage.at("totalTokens").as_int64() ==
              usage.at("promptTokens").as_int64() + usage.at("completionTokens").as_int64());
        auto again = boost::json::parse(lt::test::http_call(app.port(), "POST", path, R"({"prompt":"Hello there"})").body);
        CHECK(again.as_object().at("usage") == body.at("usage"));
        CHECK(again.as_object().at("id") != body.at("id"));
    }
}

TEST_CASE("a stub chat body that is not a JSON object is a 400") {
    TestApp app(lt::test::open_gateway());
    for (const char* body : {"[1,2]", "\"text\"", "{not json", ""}) {
        auto r = lt::test::http_call(app.port(), "POST", "/api/v1/qwen/chat", body);
        CHECK_MESSAGE(r.status == 400, body);
        CHECK(boost::json::parse(r.body).as_object().at("status") == 400);
    }
}

TEST_CASE("a stub configured to fail answers 503 and one configured to hang times out at the deadline") {
    TestApp app(lt::test::open_gateway({"providers.gemini.failure-rate=1", "providers.qwen.hang-rate=1", "server.request-timeout=300ms"}));
    auto failed = lt::test::http_call(app.port(), "POST", "/api/v1/gemini/chat", R"({"prompt":"x"})");
    CHECK(failed.status == 503);
    auto t0 = std::chrono::steady_clock::now();
    auto hung = lt::test::http_call(app.port(), "POST", "/api/v1/qwen/chat", R"({"prompt":"x"})");
    auto waited = std::chrono::steady_clock::now() - t0;
    CHECK(hung.status == 504);
    CHECK(waited >= std::chrono::milliseconds(250));
    CHECK(waited < std::chrono::seconds(5));
    auto fine = lt::test::http_call(app.port(), "POST", "/api/v1/openai/chat", R"({"prompt":"x"})");
    CHECK(fine.status == 200);
}

TEST_CASE("stub latency is applied") {
    TestApp app(lt::test::open_gateway({"providers.openai.latency=200ms"}));
    auto t0 = std::chrono::steady_clock::now();
    auto r = lt::test::http_call(app.port(), "POST", "/api/v1/openai/chat", R"({"prompt":"x"})");
    CHECK(r.status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(190));
}

TEST_CASE("with a base-url the provider is called over HTTP with connection reuse") {
    TestApp upstream(lt::test::open_gateway());
    TestApp front(lt::test::open_gateway({"providers.openai.base-url=http://127.0.0.1:" + std::to_string(upstream.port())}));
    for (int i = 0; i < 20; ++i) {
        auto r = lt::test::http_call(front.port(), "POST", "/api/v1/openai/chat", R"({"prompt":"via http","extra":1})");
        REQUIRE(r.status == 200);
        auto body = boost::json::parse(r.body).as_object();
        // The upstream received the original body shape {"prompt": ...}.
        CHECK(body.at("received").as_object().size() == 1);
        CHECK(body.at("received").as_object().at("prompt") == "via http");
    }
    // All 20 calls went over one reused keep-alive connection.
    auto metrics = lt::test::http_call(upstream.port(), "GET", "/actuator/prometheus").body;
    CHECK(metrics.find(R"(uri="/api/v1/openai/chat",status="200"} 20)") != std::string::npos);
    // The front keeps at most one idle keep-alive connection per I/O thread (2 here); the metrics
    // request is one more. Without reuse there would have been 20.
    auto at = metrics.find("\nhttp_server_connections ");
    REQUIRE(at != std::string::npos);
    auto open_connections = std::stoi(metrics.substr(at + 25));
    CHECK(open_connections >= 2);
    CHECK(open_connections <= 3);
}

TEST_CASE("an unreachable upstream is a 503 and a failing upstream a 502") {
    TestApp failing(lt::test::open_gateway({"providers.openai.failure-rate=1"}));
    TestApp front(lt::test::open_gateway({"providers.openai.base-url=http://127.0.0.1:1", "providers.gemini.base-url=http://127.0.0.1:" +
                                                                     std::to_string(failing.port())}));
    auto unreachable = lt::test::http_call(front.port(), "POST", "/api/v1/openai/chat", R"({"prompt":"x"})");
    CHECK(unreachable.status == 503);
    TestApp front2(lt::test::open_gateway({"providers.openai.base-url=http://127.0.0.1:" + std::to_string(failing.port())}));
    auto bad = lt::test::http_call(front2.port(), "POST", "/api/v1/openai/chat", R"({"prompt":"x"})");
    CHECK(bad.status == 502);
}
