// Unit tests of the providers module: deterministic usage, the stub reply, and the bus command.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "support/module_config.hpp"
#include "lt/bus/in_process_bus.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/config.hpp"
#include "lt/http/router.hpp"
#include "lt/providers/providers.hpp"
#include "stub_provider.hpp"

namespace asio = boost::asio;

namespace {
lt::config::Config load(std::vector<std::string> overrides) {
    return lt::test::load_module_config(&lt::providers::describe_config, std::move(overrides));
}

struct Harness {
    explicit Harness(std::vector<std::string> overrides = {})
        : cfg(load(std::move(overrides))), bus(io.get_executor(), lt::make_logger("test", "off"), nullptr) {
        lt::ModuleContext ctx;
        ctx.io = &io;
        ctx.bus = &bus;
        ctx.config = &cfg;
        ctx.clock = &clock;
        ctx.log = lt::make_logger("providers", "off");
        ctx.routes = &router;
        auto m = lt::providers::make_module(ctx);
        REQUIRE(m);
        module = std::move(*m);
        module->register_routes(router);
        module->register_handlers(bus);
    }
    /// provider.chat.v1 with a body as another process would send it (JSON).
    lt::Result<lt::providers::ChatReply> call(boost::json::value body) {
        auto fut = asio::co_spawn(io, bus.call_named(std::string(lt::providers::kChat.name), std::move(body), {}),
                                  asio::use_future);
        io.restart();
        io.run();
        auto r = fut.get();
        if (!r) return lt::fail(r.error());
        return std::move(*r).take<lt::providers::ChatReply>("reply");
    }
    /// provider.models.v1 as another process would call it.
    lt::Result<lt::providers::ModelsReply> models() {
        boost::json::value empty = boost::json::object{};
        auto fut = asio::co_spawn(io, bus.call_named(std::string(lt::providers::kModels.name), std::move(empty), {}),
                                  asio::use_future);
        io.restart();
        io.run();
        auto r = fut.get();
        if (!r) return lt::fail(r.error());
        return std::move(*r).take<lt::providers::ModelsReply>("reply");
    }
    asio::io_context io;
    lt::FakeClock clock;
    lt::config::Config cfg;
    lt::bus::InProcessBus bus;
    lt::http::Router router;
    std::unique_ptr<lt::Module> module;
};
}  // namespace

TEST_CASE("usage is deterministic: prompt tokens are a quarter of the characters rounded up") {
    boost::json::object a{{"prompt", "12345678"}};
    auto u = lt::providers::usage_for(a);
    CHECK(u.prompt_tokens == 2);
    CHECK(u.completion_tokens >= 8);
    CHECK(u.completion_tokens <= 32);
    CHECK(u.total_tokens == u.prompt_tokens + u.completion_tokens);
    CHECK(lt::providers::usage_for(a).completion_tokens == u.completion_tokens);
    CHECK(lt::providers::usage_for(boost::json::object{{"prompt", ""}}).prompt_tokens == 1);
}

TEST_CASE("the stub reply keeps the original field order and adds usage") {
    auto r = lt::providers::stub_reply("qwen", boost::json::object{{"prompt", "hi"}}, "id-1",
                                       std::chrono::system_clock::time_point(std::chrono::seconds(0)));
    std::vector<std::string> keys;
    for (const auto& kv : r.response) keys.emplace_back(kv.key());
    CHECK(keys == std::vector<std::string>{"id", "provider", "received", "created", "message", "usage"});
    CHECK(r.response.at("created") == "1970-01-01T00:00:00.000Z");
    CHECK(r.response.at("message") == "Stubbed Qwen response");
}

TEST_CASE("the provider.chat.v1 command answers over the bus with the response and usage") {
    Harness h;
    auto r = h.call(boost::json::object{{"provider", "OpenAI"}, {"body", boost::json::object{{"prompt", "abcd"}}}});
    REQUIRE(r);
    auto& reply = r;
    CHECK(reply->response.at("provider") == "openai");
    CHECK(reply->usage.prompt_tokens == 1);
    CHECK(reply->usage.total_tokens > 1);
}

TEST_CASE("the chat command refuses unknown providers and reports simulated failures") {
    Harness h({"providers.gemini.failure-rate=1"});
    auto unknown = h.call(boost::json::object{{"provider", "mistral"}, {"body", boost::json::object{}}});
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code == lt::Errc::invalid_argument);
    auto failing = h.call(boost::json::object{{"provider", "gemini"}, {"body", boost::json::object{}}});
    REQUIRE_FALSE(failing);
    CHECK(failing.error().code == lt::Errc::unavailable);
}

TEST_CASE("configuring an unknown provider name is an error naming the key") {
    lt::config::Schema schema;
    lt::config::describe_kernel(schema);
    lt::providers::describe_config(schema);
    lt::config::LoadOptions opts;
    opts.read_env = false;
    opts.overrides = {"providers.mistral.latency=1s"};
    auto cfg = lt::config::load(schema, opts);
    REQUIRE(cfg);  // the pattern providers.* matches; the module rejects the name
    lt::ModuleContext ctx;
    ctx.config = &*cfg;
    lt::FakeClock clock;
    ctx.clock = &clock;
    auto m = lt::providers::make_module(ctx);
    REQUIRE_FALSE(m);
    CHECK(m.error().message.find("providers.mistral") != std::string::npos);
}

#include "stub_completion.hpp"

TEST_CASE("the stub's chat completion splits its tokens into chunks, stops at maxTokens and can break off") {
    lt::providers::ProviderSettings s;
    s.stream_chunks = 3;
    boost::json::array messages{boost::json::object{{"role", "user"}, {"content", "Hello there"}}};
    lt::providers::CompletionRequest req;
    req.provider = "openai";
    req.model = "gpt-4o-mini";
    req.messages = messages;
    req.max_tokens = 1000;
    auto now = std::chrono::system_clock::now();
    auto full = lt::providers::stub_completion(s, req, now, 0.5);
    auto completion = full.completion_tokens;
    CHECK(completion >= 8);
    CHECK(completion <= 32);
    CHECK(full.finish_reason == "stop");
    CHECK(full.fail_at_chunk == -1);
    CHECK(full.provider == "openai");
    CHECK(full.model == "gpt-4o-mini");
    std::int64_t sum = 0;
    for (const auto& c : full.chunks) sum += c.completion_tokens;
    CHECK(sum == completion);
    CHECK(full.chunks.size() == 3);
    // Prompt: ceil((4 + 11) / 4) + 3, plus 3 — never above the gateway's bound (bytes + 4 per message + 3).
    CHECK(full.prompt_tokens == 10);
    CHECK(lt::providers::stub_prompt_tokens(messages) <= 4 + 11 + 4 + 3);

    req.max_tokens = 5;
    auto cut = lt::providers::stub_completion(s, req, now, 0.5);
    CHECK(cut.completion_tokens == 5);
    CHECK(cut.finish_reason == "length");

    s.stream_failure_rate = 1.0;
    req.max_tokens = 1000;
    auto broken = lt::providers::stub_completion(s, req, now, 0.5);
    CHECK(broken.fail_at_chunk >= 1);
    CHECK(broken.fail_at_chunk < 3);
}

#include "providers_config.hpp"
#include "stream_sessions.hpp"

TEST_CASE("translate_sse turns OpenAI chunks into gateway events: deltas, finish, usage, errors") {
    lt::providers::SseBatch batch;
    batch.data = {
        R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
        R"({"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]})",
        R"({"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]})",
        R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})",
        R"({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}})",
        "[DONE]"};
    batch.done = true;
    long long counted = 0;
    auto out = lt::providers::translate_sse(batch, counted);
    REQUIRE(out.events.size() == 2);  // the role-only chunk and the empty finish delta carry no output
    CHECK(out.events[0].delta.at("content") == "Hel");
    CHECK(out.events[1].tokens == 1);
    CHECK(out.finish_reason == std::optional<std::string>("stop"));
    REQUIRE(out.usage);
    CHECK(out.usage->prompt_tokens == 7);
    CHECK(out.usage->completion_tokens == 2);
    CHECK(out.done);
    CHECK_FALSE(out.error);

    // Usage in every chunk (vLLM continuous usage): the running count gives each chunk's tokens.
    lt::providers::SseBatch running;
    running.data = {R"({"choices":[{"delta":{"content":"a b c"}}],"usage":{"prompt_tokens":5,"completion_tokens":3}})",
                    R"({"choices":[{"delta":{"content":" d"}}],"usage":{"prompt_tokens":5,"completion_tokens":4}})"};
    long long so_far = 0;
    auto r = lt::providers::translate_sse(running, so_far);
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[0].tokens == 3);
    CHECK(r.events[1].tokens == 1);
    CHECK(so_far == 4);

    lt::providers::SseBatch failed;
    failed.data = {R"({"error":{"message":"overloaded","type":"server_error"}})"};
    long long n = 0;
    CHECK(lt::providers::translate_sse(failed, n).error == std::optional<std::string>("overloaded"));
}

TEST_CASE("providers.<name>.fallback must name another known provider") {
    auto bad = lt::providers::parse_config(load({"providers.openai.fallback=openai"}));
    CHECK_FALSE(bad);
    auto unknown = lt::providers::parse_config(load({"providers.openai.fallback=mistral"}));
    CHECK_FALSE(unknown);
    auto good = lt::providers::parse_config(load({"providers.openai.fallback=Gemini", "providers.openai.max-completion-tokens=512"}));
    REQUIRE(good);
    CHECK(good->providers.at("openai").fallback == std::optional<std::string>("gemini"));
    CHECK(good->providers.at("openai").max_completion_tokens == 512);
}

TEST_CASE("a refresh of providers.* swaps the settings the next command sees, keeping ca-file until a restart") {
    Harness h({"providers.openai.models=gpt-a", "providers.openai.max-completion-tokens=100"});
    auto before = h.models();
    REQUIRE(before);
    CHECK(before->providers.at("openai") == std::vector<std::string>{"gpt-a"});
    CHECK(before->settings.at("openai").max_completion_tokens == 100);

    auto next = load({"providers.openai.models=gpt-b", "providers.openai.max-completion-tokens=7",
                      "providers.openai.fallback=qwen", "providers.openai.ca-file=/nowhere/ca.pem",
                      "providers.gemini.failure-rate=1"});
    auto applied = h.module->refresh(next, {"providers.gemini.failure-rate", "providers.openai.ca-file",
                                            "providers.openai.fallback", "providers.openai.max-completion-tokens",
                                            "providers.openai.models"});
    CHECK(applied == std::vector<std::string>{"providers.gemini.failure-rate", "providers.openai.fallback",
                                              "providers.openai.max-completion-tokens", "providers.openai.models"});
    auto after = h.models();
    REQUIRE(after);
    CHECK(after->providers.at("openai") == std::vector<std::string>{"gpt-b"});
    CHECK(after->settings.at("openai").max_completion_tokens == 7);
    CHECK(after->settings.at("openai").fallback == std::optional<std::string>("qwen"));
    auto failing = h.call(boost::json::object{{"provider", "gemini"}, {"body", boost::json::object{}}});
    REQUIRE_FALSE(failing);
    CHECK(failing.error().code == lt::Errc::unavailable);

    // A configuration the module rejects applies nothing.
    auto bad = load({"providers.openai.type=openai-compatible"});  // no base-url
    CHECK(h.module->refresh(bad, {"providers.openai.type"}).empty());
    CHECK(h.models()->settings.at("openai").max_completion_tokens == 7);
}
