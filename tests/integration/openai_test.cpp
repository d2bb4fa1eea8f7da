// The OpenAI-compatible API (CONTRACT 37-39) through the whole application over real sockets:
// schemas, SSE streaming, OpenAI's error shape, and exact metering (pool before − after equals the
// reported usage, streams included, disconnects and concurrency included).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "lt/ports/event_log.hpp"
#include "support/accounts.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::Account;
using lt::test::http_call;
using lt::test::TestApp;

namespace {

constexpr const char* kChat = "/v1/chat/completions";

std::string chat_body(const std::string& model, bool stream, std::optional<int> max_tokens = std::nullopt,
                      const std::string& text = "Hello there, how are you?") {
    boost::json::object o{{"model", model},
                          {"messages", boost::json::array{boost::json::object{{"role", "system"}, {"content", "Be brief."}},
                                                          boost::json::object{{"role", "user"}, {"content", text}}}},
                          {"stream", stream},
                          {"temperature", 0.2},          // extra fields are accepted
                          {"metadata", {{"k", "v"}}}};
    if (stream) o["stream_options"] = boost::json::object{{"include_usage", true}};
    if (max_tokens) o["max_tokens"] = *max_tokens;
    return boost::json::serialize(o);
}

std::string create_api_key(std::uint16_t port, const Account& u) {
    auto r = http_call(port, "POST", "/api/v1/auth/api-keys",
                       boost::json::serialize(boost::json::object{{"userId", u.id}, {"name", "sdk"}}), u.auth());
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return std::string(boost::json::parse(r.body).as_object().at("apiKey").as_string());
}

std::int64_t remaining(std::uint16_t port, const Account& u, const std::string& provider = "openai") {
    auto r = http_call(port, "GET", "/api/v1/tokens/quota?userId=" + u.id + "&provider=" + provider, "", u.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return boost::json::parse(r.body).as_object().at("remainingTokens").as_int64();
}

void check_openai_error(const lt::test::HttpResult& r, int status, const std::string& code) {
    CHECK(r.status == status);
    auto v = boost::json::parse(r.body);
    REQUIRE_MESSAGE(v.is_object(), r.body);
    auto* e = v.as_object().if_contains("error");
    REQUIRE_MESSAGE((e && e->is_object()), r.body);
    const auto& err = e->as_object();
    CHECK(err.contains("message"));
    CHECK(err.contains("type"));
    CHECK(err.contains("param"));
    REQUIRE(err.contains("code"));
    CHECK_MESSAGE(err.at("code") == boost::json::value(code), r.body);
    CHECK(r.header("x-content-type-options") == "nosniff");
    CHECK(r.header("strict-transport-security") == "max-age=31536000; includeSubDomains");
    CHECK_FALSE(r.header("x-correlation-id").empty());
}

/// The `data:` payloads of an SSE body, in order.
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

/// Usage events of the app's event log (read by a consumer group of its own), waiting until at
/// least `want` arrived or 10 s passed.
std::vector<boost::json::object> usage_events(TestApp& app, std::size_t want) {
    std::vector<boost::json::object> out;
    std::string group = "openai-test-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (out.size() < want && std::chrono::steady_clock::now() < until) {
        auto polled = app.app().event_log().poll(app.setting("token.usage.topic", "token-usage"), group, 1000,
                                                 std::chrono::milliseconds(200));
        if (!polled) continue;
        for (auto& rec : *polled) {
            auto v = boost::json::parse(rec.value).as_object();
            out.push_back(v.at("payload").as_object());
        }
    }
    return out;
}

/// Reads an SSE response on a raw socket until `stop_after` data lines, then closes the socket.
struct PartialStream {
    std::string received;
};
PartialStream read_then_close(std::uint16_t port, const std::map<std::string, std::string>& headers,
                              const std::string& body, int stop_after) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    std::string req = std::string("POST ") + kChat + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    boost::asio::write(s, boost::asio::buffer(req));
    PartialStream out;
    char buf[4096];
    for (;;) {
        boost::system::error_code ec;
        auto n = s.read_some(boost::asio::buffer(buf), ec);
        if (ec) break;
        out.received.append(buf, n);
        std::size_t count = 0, pos = 0;
        while ((pos = out.received.find("data: ", pos)) != std::string::npos) ++count, pos += 6;
        if (static_cast<int>(count) >= stop_after) break;
    }
    boost::system::error_code ignored;
    s.set_option(boost::asio::socket_base::linger(true, 0), ignored);  // RST: the client is gone at once
    s.close(ignored);
    return out;
}

struct Fixture {
    explicit Fixture(std::vector<std::string> extra = {}) : app(lt::test::with_admin(std::move(extra))) {
        root = lt::test::admin(app.port());
        user = lt::test::signup(app.port(), "alice");
    }
    TestApp app;
    Account root;
    Account user;
};

}  // namespace

TEST_CASE("GET /v1/models lists the configured models in OpenAI's list shape") {
    Fixture f;
    auto r = http_call(f.app.port(), "GET", "/v1/models", "", f.user.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto o = boost::json::parse(r.body).as_object();
    CHECK(o.at("object") == "list");
    bool found = false;
    for (const auto& m : o.at("data").as_array()) {
        CHECK(m.as_object().at("object") == "model");
        if (m.as_object().at("id") == "gpt-4o-mini") found = m.as_object().at("owned_by") == "openai";
    }
    CHECK(found);
}

TEST_CASE("a non-streamed chat completion answers OpenAI's schema and charges exactly its usage") {
    Fixture f;
    lt::test::allocate(f.app.port(), f.root, "userId", f.user.id, 1000);
    auto key = create_api_key(f.app.port(), f.user);
    auto before = remaining(f.app.port(), f.user);
    auto r = http_call(f.app.port(), "POST", kChat, chat_body("gpt-4o-mini", false), {{"Authorization", "Bearer " + key}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.header("x-leaky-provider") == "openai");
    CHECK_FALSE(r.header("x-ratelimit-remaining").empty());
    auto o = boost::json::parse(r.body).as_object();
    CHECK(o.at("object") == "chat.completion");
    CHECK(o.at("model") == "gpt-4o-mini");
    const auto& choice = o.at("choices").as_array().at(0).as_object();
    CHECK(choice.at("message").as_object().at("role") == "assistant");
    CHECK_FALSE(choice.at("message").as_object().at("content").as_string().empty());
    CHECK(choice.at("finish_reason") == "stop");
    const auto& usage = o.at("usage").as_object();
    auto charged = usage.at("prompt_tokens").as_int64() + usage.at("completion_tokens").as_int64();
    CHECK(usage.at("total_tokens").as_int64() == charged);
    CHECK(before - remaining(f.app.port(), f.user) == charged);

    // X-Api-Key, a JWT and "provider/name" work too.
    auto by_header = http_call(f.app.port(), "POST", kChat, chat_body("openai/anything", false), {{"X-Api-Key", key}});
    CHECK_MESSAGE(by_header.status == 200, by_header.body);
    auto by_jwt = http_call(f.app.port(), "POST", kChat, chat_body("gpt-4o", false), f.user.auth());
    CHECK_MESSAGE(by_jwt.status == 200, by_jwt.body);

    auto events = usage_events(f.app, 3);
    REQUIRE(events.size() >= 3);
    const auto& e = events.front();
    CHECK(e.at("model") == "gpt-4o-mini");
    CHECK(e.at("promptTokens").as_int64() == usage.at("prompt_tokens").as_int64());
    CHECK(e.at("completionTokens").as_int64() == usage.at("completion_tokens").as_int64());
    CHECK(e.at("tokens").as_int64() == charged);
    CHECK(e.at("completeness") == "complete");
    CHECK(e.at("outcome") == "allowed");
}

TEST_CASE("errors under /v1/ use OpenAI's shape: 401, 404 model_not_found, 400, 402") {
    Fixture f;
    auto port = f.app.port();
    check_openai_error(http_call(port, "POST", kChat, chat_body("gpt-4o-mini", false)), 401, "invalid_api_key");
    check_openai_error(http_call(port, "POST", kChat, chat_body("gpt-4o-mini", false), {{"Authorization", "Bearer sk-nope"}}),
                       401, "invalid_api_key");
    check_openai_error(http_call(port, "GET", "/v1/models"), 401, "invalid_api_key");
    check_openai_error(http_call(port, "POST", kChat, chat_body("no-such-model", false), f.user.auth()), 404,
                       "model_not_found");
    check_openai_error(http_call(port, "POST", kChat, R"({"model":"gpt-4o","messages":[]})", f.user.auth()), 400,
                       "invalid_value");
    check_openai_error(http_call(port, "POST", kChat, R"({"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"max_tokens":0})",
                                 f.user.auth()),
                       400, "invalid_value");
    // No pool at all, then a pool smaller than the prompt: 402 without rate-limit headers.
    auto none = http_call(port, "POST", kChat, chat_body("gpt-4o-mini", false), f.user.auth());
    check_openai_error(none, 402, "insufficient_quota");
    lt::test::allocate(port, f.root, "userId", f.user.id, 5);
    auto tiny = http_call(port, "POST", kChat, chat_body("gpt-4o-mini", false), f.user.auth());
    check_openai_error(tiny, 402, "insufficient_quota");
    CHECK(tiny.header("x-ratelimit-remaining").empty());
    CHECK(remaining(port, f.user) == 5);
}

TEST_CASE("a chat completion the bucket cannot admit is a 429 in OpenAI's shape with the rate-limit headers") {
    Fixture f({"token.bucket.capacity=60", "token.bucket.leak-rate-per-second=0.01"});
    lt::test::allocate(f.app.port(), f.root, "userId", f.user.id, 100000);
    auto first = http_call(f.app.port(), "POST", kChat, chat_body("gpt-4o-mini", false, 1), f.user.auth());
    REQUIRE_MESSAGE(first.status == 200, first.body);
    auto r = http_call(f.app.port(), "POST", kChat, chat_body("gpt-4o-mini", false, 1), f.user.auth());
    check_openai_error(r, 429, "rate_limit_exceeded");
    CHECK_FALSE(r.header("retry-after").empty());
    CHECK(r.header("retry-after") == r.header("x-ratelimit-reset"));
    CHECK(r.header("ratelimit-policy").find("\"bucket\";q=60") == 0);
    CHECK(r.header("ratelimit").find("\"bucket\";r=") == 0);
    auto events = usage_events(f.app, 2);
    REQUIRE(events.size() == 2);
    CHECK(events[1].at("outcome") == "rate_limited");
    CHECK(events[1].at("allowed") == false);
    CHECK(events[1].at("model") == "gpt-4o-mini");
}

TEST_CASE("the gateway's own edge 429 under /v1/ is in OpenAI's shape") {
    Fixture f({"gateway.rate-limit.routes.token-service.capacity=2"});
    for (int i = 0; i < 2; ++i) http_call(f.app.port(), "GET", "/v1/models", "", f.user.auth());
    auto r = http_call(f.app.port(), "GET", "/v1/models", "", f.user.auth());
    check_openai_error(r, 429, "rate_limit_exceeded");
    CHECK_FALSE(r.header("retry-after").empty());
}

TEST_CASE("max_tokens is lowered to what the pool can still pay for and the completion stops there") {
    Fixture f;
    auto port = f.app.port();
    // Probe the prompt's real size once, then leave the pool at exactly the prompt bound + 3.
    lt::test::allocate(port, f.root, "userId", f.user.id, 1000);
    auto body = chat_body("gpt-4o-mini", false, 1000);
    auto probe = http_call(port, "POST", kChat, body, f.user.auth());
    REQUIRE(probe.status == 200);
    // The bound: bytes of role + content per message + 4, plus 3 ("system"+"Be brief." and "user"+text).
    const std::int64_t bound = 3 + (6 + 9 + 4) + (4 + 25 + 4);
    lt::test::allocate(port, f.root, "userId", f.user.id, bound + 3);
    auto r = http_call(port, "POST", kChat, body, f.user.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto o = boost::json::parse(r.body).as_object();
    const auto& usage = o.at("usage").as_object();
    CHECK(usage.at("completion_tokens").as_int64() == 3);
    CHECK(o.at("choices").as_array().at(0).as_object().at("finish_reason") == "length");
    CHECK(remaining(port, f.user) == bound + 3 - usage.at("total_tokens").as_int64());
}

TEST_CASE("a streamed chat completion is SSE with the usage chunk and [DONE], charged exactly") {
    Fixture f({"providers.openai.stream.chunks=5"});
    lt::test::allocate(f.app.port(), f.root, "userId", f.user.id, 1000);
    auto before = remaining(f.app.port(), f.user);
    auto r = http_call(f.app.port(), "POST", kChat, chat_body("gpt-4o-mini", true), f.user.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.header("content-type") == "text/event-stream");
    CHECK(r.header("transfer-encoding") == "chunked");
    auto data = sse_data(r.body);
    REQUIRE(data.size() >= 4);
    CHECK(data.back() == "[DONE]");
    std::string content;
    std::string finish;
    boost::json::object usage;
    for (std::size_t i = 0; i + 1 < data.size(); ++i) {
        auto o = boost::json::parse(data[i]).as_object();
        CHECK(o.at("object") == "chat.completion.chunk");
        const auto& choices = o.at("choices").as_array();
        if (choices.empty()) {
            usage = o.at("usage").as_object();
            continue;
        }
        const auto& c = choices.at(0).as_object();
        if (auto* d = c.at("delta").as_object().if_contains("content")) content += d->as_string();
        if (!c.at("finish_reason").is_null()) finish = std::string(c.at("finish_reason").as_string());
    }
    CHECK(finish == "stop");
    REQUIRE_FALSE(usage.empty());
    CHECK_FALSE(content.empty());
    auto charged = usage.at("prompt_tokens").as_int64() + usage.at("completion_tokens").as_int64();
    CHECK(before - remaining(f.app.port(), f.user) == charged);
    auto events = usage_events(f.app, 1);
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("completeness") == "complete");
    CHECK(events[0].at("tokens").as_int64() == charged);
}

TEST_CASE("a client that disconnects mid-stream is charged only what was produced and the pool stays exact") {
    Fixture f({"providers.openai.stream.chunks=20", "providers.openai.stream.delay=100ms"});
    auto port = f.app.port();
    lt::test::allocate(port, f.root, "userId", f.user.id, 1000);
    auto before = remaining(port, f.user);
    // Long enough for a 20+ token completion whatever the hash says: 8..32 tokens.
    auto partial = read_then_close(port, f.user.auth(), chat_body("gpt-4o-mini", true, 1000), 3);
    auto events = usage_events(f.app, 1);
    REQUIRE(events.size() == 1);
    const auto& e = events[0];
    CHECK(e.at("completeness") == "client_disconnected");
    auto produced = e.at("completionTokens").as_int64();
    CHECK(produced >= 2);  // the two content chunks the client saw
    CHECK(produced < 32);
    auto charged = e.at("tokens").as_int64();
    CHECK(charged == e.at("promptTokens").as_int64() + produced);
    CHECK(before - remaining(port, f.user) == charged);
}

TEST_CASE("an upstream failure mid-stream ends the stream with an error event and charges what was produced") {
    Fixture f({"providers.openai.stream.chunks=6", "providers.openai.stream.failure-rate=1"});
    auto port = f.app.port();
    lt::test::allocate(port, f.root, "userId", f.user.id, 1000);
    auto before = remaining(port, f.user);
    auto r = http_call(port, "POST", kChat, chat_body("gpt-4o-mini", true), f.user.auth());
    REQUIRE(r.status == 200);
    auto data = sse_data(r.body);
    REQUIRE_FALSE(data.empty());
    CHECK(data.back().find("\"upstream_error\"") != std::string::npos);
    auto events = usage_events(f.app, 1);
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("completeness") == "upstream_error");
    CHECK(before - remaining(port, f.user) == events[0].at("tokens").as_int64());
}

TEST_CASE("32 concurrent streams on one small pool never spend past it") {
    Fixture f({"providers.openai.stream.chunks=4", "providers.openai.stream.delay=20ms"});
    auto port = f.app.port();
    for (int loop = 0; loop < 4; ++loop) {
        const std::int64_t pool = 300;
        lt::test::allocate(port, f.root, "userId", f.user.id, pool);
        std::atomic<std::int64_t> reported{0};
        std::atomic<int> ok{0}, refused{0}, other{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 32; ++i) {
            threads.emplace_back([&, i] {
                std::string text = std::to_string(i);
                text.insert(0, "question ");
                // Even loops ask for 20 tokens each; odd loops for the default (4096), so that every
                // admitted stream has its completion limit lowered to what is left.
                auto limit = loop % 2 == 0 ? std::optional<int>(20) : std::nullopt;
                auto r = http_call(port, "POST", kChat, chat_body("gpt-4o-mini", true, limit, text), f.user.auth());
                if (r.status == 402) {
                    ++refused;
                    return;
                }
                if (r.status != 200) {
                    ++other;
                    return;
                }
                ++ok;
                for (const auto& d : sse_data(r.body)) {
                    if (d == "[DONE]") continue;
                    auto o = boost::json::parse(d).as_object();
                    if (auto* u = o.if_contains("usage"); u && u->is_object()) {
                        reported += u->as_object().at("total_tokens").as_int64();
                    }
                }
            });
        }
        for (auto& t : threads) t.join();
        auto left = remaining(port, f.user);
        MESSAGE("loop " << loop << ": ok=" << ok.load() << " refused=" << refused.load() << " spent=" << pool - left);
        CHECK(other == 0);
        CHECK(ok > 0);
        CHECK(left >= 0);
        CHECK(pool - left == reported.load());
    }
}

TEST_CASE("an HTTP/1.0 client gets a streamed completion close-delimited, without chunk framing") {
    Fixture f;
    lt::test::allocate(f.app.port(), f.root, "userId", f.user.id, 1000);
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), f.app.port()});
    auto body = chat_body("gpt-4o-mini", true);
    std::string req = std::string("POST ") + kChat + " HTTP/1.0\r\nContent-Type: application/json\r\nAuthorization: Bearer ";
    req += f.user.token;
    req += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    boost::asio::write(s, boost::asio::buffer(req));
    std::string all;
    boost::system::error_code ec;
    boost::asio::read(s, boost::asio::dynamic_buffer(all), ec);  // until the server closes
    CHECK(ec == boost::asio::error::eof);
    auto head_end = all.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    auto head = all.substr(0, head_end);
    CHECK(head.find("HTTP/1.0 200") == 0);
    CHECK(head.find("Transfer-Encoding") == std::string::npos);
    auto payload = all.substr(head_end + 4);
    CHECK(payload.rfind("data: {", 0) == 0);  // no chunk-size line
    auto data = sse_data(payload);
    REQUIRE_FALSE(data.empty());
    CHECK(data.back() == "[DONE]");
}
