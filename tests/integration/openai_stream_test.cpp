// Live upstream streaming of /v1/chat/completions (issue 12): an openai-compatible provider pointed at a
// fake upstream (HTTP, and HTTPS with a throwaway CA) that streams, breaks off, stalls, refuses, or
// produces past max_tokens. Every case asserts the pool and the usage event exactly. Also: keep-alive
// reuse and the stale-connection retry, fallbacks, and 32 concurrent live streams on one small pool.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "lt/ports/event_log.hpp"
#include "support/accounts.hpp"
#include "support/fake_openai_upstream.hpp"
#include "support/temp_dir.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::Account;
using lt::test::FakeOpenAiUpstream;
using lt::test::http_call;
using lt::test::TestApp;

namespace {

constexpr const char* kChat = "/v1/chat/completions";
constexpr long long kPrompt = FakeOpenAiUpstream::kPromptTokens;

std::string chat_body(const std::string& text, bool stream, std::optional<int> max_tokens = std::nullopt,
                      const std::string& model = "gpt-4o-mini") {
    boost::json::object o{{"model", model},
                          {"messages", boost::json::array{boost::json::object{{"role", "user"}, {"content", text}}}},
                          {"stream", stream},
                          {"temperature", 0.5}};
    if (stream) o["stream_options"] = boost::json::object{{"include_usage", true}};
    if (max_tokens) o["max_tokens"] = *max_tokens;
    return boost::json::serialize(o);
}

/// What the gateway charges for the prompt when the upstream reports no usage (prompt_token_estimate).
long long prompt_estimate(const std::string& text) {
    return 3 + static_cast<long long>((std::string("user").size() + text.size() + 3) / 4) + 3;
}

std::int64_t remaining(std::uint16_t port, const Account& u, const std::string& provider = "openai") {
    auto r = http_call(port, "GET", "/api/v1/tokens/quota?userId=" + u.id + "&provider=" + provider, "", u.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return boost::json::parse(r.body).as_object().at("remainingTokens").as_int64();
}

std::vector<std::string> sse_data(const std::string& body) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while ((pos = body.find("data: ", pos)) != std::string::npos) {
        auto end = body.find("\n\n", pos);
        if (end == std::string::npos) break;
        out.push_back(body.substr(pos + 6, end - pos - 6));
        pos = end + 2;
    }
    return out;
}

/// Usage events of the app's event log, waiting until at least `want` arrived or 10 s passed.
/// `group`: a consumer group that continues where its previous read stopped (default: a new one).
std::vector<boost::json::object> usage_events(TestApp& app, std::size_t want, std::string group = {}) {
    std::vector<boost::json::object> out;
    if (group.empty()) group = "stream-test-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (out.size() < want && std::chrono::steady_clock::now() < until) {
        auto polled = app.app().event_log().poll(app.setting("token.usage.topic", "token-usage"), group, 1000,
                                                 std::chrono::milliseconds(200));
        if (!polled) continue;
        for (auto& rec : *polled) out.push_back(boost::json::parse(rec.value).as_object().at("payload").as_object());
    }
    return out;
}

/// The `usage` of the SSE usage chunk (total_tokens), or -1.
long long sse_total(const std::string& body) {
    for (const auto& d : sse_data(body)) {
        if (d == "[DONE]") continue;
        auto o = boost::json::parse(d).as_object();
        if (auto* u = o.if_contains("usage"); u && u->is_object()) return u->as_object().at("total_tokens").as_int64();
    }
    return -1;
}

struct Fixture {
    explicit Fixture(const FakeOpenAiUpstream& up, std::vector<std::string> extra = {}, std::string ca = {})
        : app(lt::test::with_admin(settings(up, std::move(extra), ca))) {
        root = lt::test::admin(app.port());
        user = lt::test::signup(app.port(), "streamer");
        lt::test::allocate(app.port(), root, "userId", user.id, 1000);
    }
    static std::vector<std::string> settings(const FakeOpenAiUpstream& up, std::vector<std::string> extra,
                                             const std::string& ca) {
        std::vector<std::string> s{"providers.openai.type=openai-compatible", "providers.openai.base-url=" + up.base_url(),
                                   "providers.openai.api-key=sk-fake", "providers.openai.idle-timeout=1500ms"};
        if (!ca.empty()) s.push_back("providers.openai.ca-file=" + ca);
        for (auto& e : extra) s.push_back(std::move(e));
        return s;
    }
    TestApp app;
    Account root;
    Account user;
};

/// Reads an SSE response on a raw socket until `stop_after` data lines, then resets the connection.
/// Returns the milliseconds until the first content chunk (-1 if none).
long long read_then_close(std::uint16_t port, const std::map<std::string, std::string>& headers, const std::string& body,
                          int stop_after) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    std::string req = std::string("POST ") + kChat + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    auto start = std::chrono::steady_clock::now();
    boost::asio::write(s, boost::asio::buffer(req));
    std::string received;
    long long first_content = -1;
    char buf[4096];
    for (;;) {
        boost::system::error_code ec;
        auto n = s.read_some(boost::asio::buffer(buf), ec);
        if (ec) break;
        received.append(buf, n);
        if (first_content < 0 && received.find("\"content\":\"w0\"") != std::string::npos) {
            first_content = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
        }
        std::size_t count = 0, pos = 0;
        while ((pos = received.find("data: ", pos)) != std::string::npos) ++count, pos += 6;
        // Stop at [DONE], or at the end of the chunked body (a stream that ends with an error event).
        if (static_cast<int>(count) >= stop_after || received.find("data: [DONE]") != std::string::npos ||
            received.ends_with("\r\n0\r\n\r\n")) {
            break;
        }
    }
    boost::system::error_code ignored;
    s.set_option(boost::asio::socket_base::linger(true, 0), ignored);
    s.close(ignored);
    return first_content;
}

}  // namespace

TEST_CASE("a live upstream stream is forwarded chunk by chunk as it arrives and charged exactly its usage") {
    FakeOpenAiUpstream up;
    Fixture f(up);
    auto port = f.app.port();
    auto before = remaining(port, f.user);
    auto started = std::chrono::steady_clock::now();
    // 5 chunks 300 ms apart: the first content chunk must reach the client long before the last.
    auto first = read_then_close(port, f.user.auth(), chat_body("hi chunks:5 delay:300", true, 100), 1000);
    auto total = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    MESSAGE("first content chunk after " << first << " ms, stream done after " << total << " ms");
    CHECK(first > 0);
    CHECK(first < total - 800);
    auto sent = up.last_body();
    CHECK(sent.at("stream") == true);
    CHECK(sent.at("stream_options").as_object().at("include_usage") == true);
    CHECK(sent.at("max_tokens").as_int64() == 100);
    CHECK(sent.at("temperature").as_double() == 0.5);  // extra fields pass through
    CHECK(up.last_authorization() == "Bearer sk-fake");
    auto events = usage_events(f.app, 1);
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("completeness") == "complete");
    CHECK(events[0].at("promptTokens").as_int64() == kPrompt);
    CHECK(events[0].at("completionTokens").as_int64() == 5);
    CHECK(events[0].at("tokens").as_int64() == kPrompt + 5);
    CHECK(events[0].at("model") == "gpt-4o-mini");
    CHECK(before - remaining(port, f.user) == kPrompt + 5);

    auto r = http_call(port, "POST", kChat, chat_body("again chunks:3", true, 100), f.user.auth());
    REQUIRE(r.status == 200);
    CHECK(r.header("x-leaky-provider") == "openai");
    auto data = sse_data(r.body);
    REQUIRE(data.size() >= 3);
    CHECK(data.back() == "[DONE]");
    CHECK(sse_total(r.body) == kPrompt + 3);
}

TEST_CASE("a live stream over HTTPS with a throwaway CA is verified, streamed and charged exactly") {
    lt::test::TempDir certs;
    if (!lt::test::make_test_certificates(certs.path())) {
        MESSAGE("SKIPPED: the openssl CLI could not make a throwaway CA");
        return;
    }
    FakeOpenAiUpstream up(certs.path());
    Fixture f(up, {}, (certs.path() / "ca.pem").string());
    auto port = f.app.port();
    auto before = remaining(port, f.user);
    auto r = http_call(port, "POST", kChat, chat_body("tls chunks:4", true, 50), f.user.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(sse_total(r.body) == kPrompt + 4);
    CHECK(before - remaining(port, f.user) == kPrompt + 4);
    auto plain = http_call(port, "POST", kChat, chat_body("tls plain chunks:2", false, 50), f.user.auth());
    REQUIRE_MESSAGE(plain.status == 200, plain.body);
    CHECK(before - remaining(port, f.user) == 2 * kPrompt + 6);
}

TEST_CASE("an upstream producing past the reservation is cut off there and the pool is charged only the reservation's share") {
    FakeOpenAiUpstream up;
    Fixture f(up);
    auto port = f.app.port();
    auto before = remaining(port, f.user);
    const std::string text = "overrun chunks:40";
    auto r = http_call(port, "POST", kChat, chat_body(text, true, 10), f.user.auth());
    REQUIRE(r.status == 200);
    CHECK(r.body.find("\"finish_reason\":\"length\"") != std::string::npos);
    CHECK(r.body.find("\"content\":\"w10\"") == std::string::npos);  // the 11th chunk never reaches the client
    auto events = usage_events(f.app, 1);
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("completeness") == "cut_off");
    CHECK(events[0].at("completionTokens").as_int64() == 10);
    CHECK(events[0].at("promptTokens").as_int64() == prompt_estimate(text));
    CHECK(events[0].at("tokens").as_int64() == prompt_estimate(text) + 10);
    CHECK(sse_total(r.body) == prompt_estimate(text) + 10);
    CHECK(before - remaining(port, f.user) == prompt_estimate(text) + 10);
}

TEST_CASE("an upstream breaking off mid-stream ends the stream with upstream_error and charges what was produced") {
    FakeOpenAiUpstream up;
    Fixture f(up);
    auto port = f.app.port();
    auto before = remaining(port, f.user);
    const std::string text = "fail chunks:6";
    auto r = http_call(port, "POST", kChat, chat_body(text, true, 100), f.user.auth());
    REQUIRE(r.status == 200);
    auto data = sse_data(r.body);
    REQUIRE_FALSE(data.empty());
    CHECK(data.back().find("\"upstream_error\"") != std::string::npos);
    auto events = usage_events(f.app, 1);
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("completeness") == "upstream_error");
    CHECK(events[0].at("completionTokens").as_int64() == 2);
    CHECK(events[0].at("tokens").as_int64() == prompt_estimate(text) + 2);
    CHECK(before - remaining(port, f.user) == prompt_estimate(text) + 2);
}

TEST_CASE("an upstream that stalls past the idle timeout is an upstream_error charged what was produced") {
    FakeOpenAiUpstream up;
    Fixture f(up);
    auto port = f.app.port();
    auto before = remaining(port, f.user);
    const std::string text = "stall chunks:6";
    auto started = std::chrono::steady_clock::now();
    auto r = http_call(port, "POST", kChat, chat_body(text, true, 100), f.user.auth());
    auto took = std::chrono::steady_clock::now() - started;
    REQUIRE(r.status == 200);
    CHECK(took < std::chrono::milliseconds(4000));  // idle-timeout 1.5 s, not the 5 s stall
    CHECK(sse_data(r.body).back().find("\"upstream_error\"") != std::string::npos);
    auto events = usage_events(f.app, 1);
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("completeness") == "upstream_error");
    CHECK(events[0].at("tokens").as_int64() == prompt_estimate(text) + 2);
    CHECK(before - remaining(port, f.user) == prompt_estimate(text) + 2);
}

TEST_CASE("a client that disconnects from a live stream is charged the upstream's reported usage") {
    FakeOpenAiUpstream up;
    Fixture f(up);
    auto port = f.app.port();
    auto before = remaining(port, f.user);
    read_then_close(port, f.user.auth(), chat_body("bye chunks:12 delay:50", true, 100), 3);
    auto events = usage_events(f.app, 1);
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("completeness") == "client_disconnected");
    // The gateway read the stream to its end: the usage is the upstream's own.
    CHECK(events[0].at("promptTokens").as_int64() == kPrompt);
    CHECK(events[0].at("completionTokens").as_int64() == 12);
    CHECK(before - remaining(port, f.user) == kPrompt + 12);
}

TEST_CASE("an upstream's own 429 is passed on with X-Leaky-Upstream-Refused and charges nothing") {
    FakeOpenAiUpstream up;
    Fixture f(up);
    auto port = f.app.port();
    auto before = remaining(port, f.user);
    for (bool stream : {false, true}) {
        auto r = http_call(port, "POST", kChat, chat_body("refuse", stream, 10), f.user.auth());
        CHECK(r.status == 429);
        CHECK(r.header("x-leaky-upstream-refused") == "true");
        CHECK(r.body.find("rate_limit_exceeded") != std::string::npos);
        CHECK(r.body.find("Rate limit reached") != std::string::npos);
    }
    CHECK(up.requests() == 2);  // never retried
    CHECK(remaining(port, f.user) == before);
}

TEST_CASE("keep-alive: sequential calls reuse one upstream connection, and a stale pooled one is retried on a fresh one") {
    {
        FakeOpenAiUpstream up;
        Fixture f(up);
        for (int i = 0; i < 5; ++i) {
            auto r = http_call(f.app.port(), "POST", kChat, chat_body("ka chunks:2", i % 2 == 1, 10), f.user.auth());
            REQUIRE_MESSAGE(r.status == 200, r.body);
        }
        // Two I/O threads in the test app: at most one connection per thread.
        CHECK(up.connections() <= 2);
        CHECK(up.requests() == 5);
    }
    {
        FakeOpenAiUpstream up(std::nullopt, true);  // drops every connection after its answer
        Fixture f(up, {"token.provider.retry.max-attempts=1"});
        for (int i = 0; i < 4; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            auto r = http_call(f.app.port(), "POST", kChat, chat_body("stale chunks:2", false, 10), f.user.auth());
            CHECK_MESSAGE(r.status == 200, r.body);
        }
        CHECK(up.requests() == 4);
    }
}

TEST_CASE("a failing provider falls back to providers.<name>.fallback, which serves and is charged") {
    FakeOpenAiUpstream up;
    Fixture f(up, {"providers.openai.fallback=gemini", "token.provider.retry.max-attempts=1",
                   "token.quota.default-allowance.gemini=500"});
    auto port = f.app.port();
    auto before = remaining(port, f.user);
    auto r = http_call(port, "POST", kChat, chat_body("broken", false, 10), f.user.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.header("x-leaky-provider") == "gemini");
    CHECK(r.header("x-leaky-fallback-from") == "openai");
    auto usage = boost::json::parse(r.body).as_object().at("usage").as_object().at("total_tokens").as_int64();
    CHECK(remaining(port, f.user) == before);  // the failed primary charges nothing
    CHECK(500 - remaining(port, f.user, "gemini") == usage);
    auto s = http_call(port, "POST", kChat, chat_body("broken", true, 10), f.user.auth());
    REQUIRE(s.status == 200);
    CHECK(s.header("x-leaky-provider") == "gemini");
    CHECK(s.body.find("data: [DONE]") != std::string::npos);
}

TEST_CASE("an empty pool for the provider sends the request to its fallback") {
    FakeOpenAiUpstream up;
    Fixture f(up, {"providers.openai.fallback=qwen", "token.quota.default-allowance.qwen=400"});
    auto port = f.app.port();
    lt::test::allocate(port, f.root, "userId", f.user.id, 0);
    auto r = http_call(port, "POST", kChat, chat_body("hello chunks:2", false, 10), f.user.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.header("x-leaky-provider") == "qwen");
    CHECK(up.requests() == 0);
    auto usage = boost::json::parse(r.body).as_object().at("usage").as_object().at("total_tokens").as_int64();
    CHECK(400 - remaining(port, f.user, "qwen") == usage);
}

TEST_CASE("providers.<name>.max-completion-tokens is the completion limit when the caller sends none") {
    FakeOpenAiUpstream up;
    Fixture f(up, {"providers.openai.max-completion-tokens=7"});
    auto r = http_call(f.app.port(), "POST", kChat, chat_body("limit chunks:20", false), f.user.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(up.last_body().at("max_tokens").as_int64() == 7);
    CHECK(boost::json::parse(r.body).as_object().at("usage").as_object().at("completion_tokens").as_int64() == 7);
}

TEST_CASE("32 concurrent live streams on one small pool never spend past it") {
    FakeOpenAiUpstream up;
    Fixture f(up, {"gateway.rate-limit.enabled=false", "token.bucket.capacity=100000"});
    auto port = f.app.port();
    int loops = 2;
    if (const char* l = std::getenv("LT_STREAM_LOOPS")) loops = std::max(1, std::atoi(l));
    const std::string group = "stream-concurrency";
    for (int loop = 0; loop < loops; ++loop) {
        const std::int64_t pool = 600;
        lt::test::allocate(port, f.root, "userId", f.user.id, pool);
        std::atomic<std::int64_t> reported{0};
        std::atomic<int> ok{0}, refused{0}, other{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 32; ++i) {
            threads.emplace_back([&, i] {
                // Some ask little, some ask for the provider default; some overrun, some break off.
                std::string text = "q" + std::to_string(i) + " chunks:" + std::to_string(5 + i % 20) + " delay:5";
                if (i % 7 == 3) text += " overrun";
                if (i % 11 == 5) text += " fail";
                auto limit = i % 8 == 7 ? std::nullopt : std::optional<int>(15);
                auto r = http_call(port, "POST", kChat, chat_body(text, true, limit), f.user.auth());
                if (r.status == 402) {
                    ++refused;
                    return;
                }
                if (r.status != 200) {
                    ++other;
                    return;
                }
                ++ok;
                auto total = sse_total(r.body);
                if (total >= 0) reported += total;
            });
        }
        for (auto& t : threads) t.join();
        auto left = remaining(port, f.user);
        auto events = usage_events(f.app, static_cast<std::size_t>(ok.load()), group);
        std::int64_t charged = 0;
        for (const auto& e : events) charged += e.at("tokens").as_int64();
        MESSAGE("loop " << loop << ": ok=" << ok.load() << " refused=" << refused.load() << " spent=" << pool - left
                        << " charged=" << charged);
        CHECK(other == 0);
        CHECK(ok > 0);
        CHECK(left >= 0);
        CHECK(pool - left == charged);
        CHECK(reported.load() <= charged);  // streams that broke off carry no usage chunk
    }
}

TEST_CASE("the analytics report breaks chat completions down per model") {
    FakeOpenAiUpstream up;
    Fixture f(up);
    auto port = f.app.port();
    auto a = http_call(port, "POST", kChat, chat_body("one chunks:3", false, 10, "gpt-4o-mini"), f.user.auth());
    auto b = http_call(port, "POST", kChat, chat_body("two chunks:4", true, 10, "openai/gpt-4o"), f.user.auth());
    auto c = http_call(port, "POST", kChat, chat_body("three chunks:2", false, 10, "gpt-4o-mini"), f.user.auth());
    REQUIRE(a.status == 200);
    REQUIRE(b.status == 200);
    REQUIRE(c.status == 200);
    boost::json::array models;
    for (int i = 0; i < 50; ++i) {
        auto r = http_call(port, "GET", "/api/v1/analytics/report?provider=openai", "", f.user.auth());
        REQUIRE_MESSAGE(r.status == 200, r.body);
        auto o = boost::json::parse(r.body).as_object();
        models = o.at("models").as_array();
        if (o.at("totalEvents").as_int64() >= 3) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(models.size() == 2);
    const auto& first = models[0].as_object();   // most tokens first
    const auto& second = models[1].as_object();
    CHECK(first.at("model") == "gpt-4o-mini");
    CHECK(first.at("totalEvents").as_int64() == 2);
    CHECK(first.at("totalTokens").as_int64() == 2 * kPrompt + 3 + 2);
    CHECK(second.at("model") == "openai/gpt-4o");
    CHECK(second.at("totalTokens").as_int64() == kPrompt + 4);
    // The usage listing shows the chat fields too.
    auto u = http_call(port, "GET", "/api/v1/analytics/usage?provider=openai", "", f.user.auth());
    REQUIRE(u.status == 200);
    auto listing = boost::json::parse(u.body);
    const auto& newest = listing.as_object().at("items").as_array().at(0).as_object();
    CHECK(newest.at("model") == "gpt-4o-mini");
    CHECK(newest.at("promptTokens").as_int64() == kPrompt);
    CHECK(newest.at("completionTokens").as_int64() == 2);
    CHECK(newest.at("completeness") == "complete");
}
