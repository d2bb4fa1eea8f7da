// POST /actuator/refresh applies provider settings without a restart: providers.<name>.* (base-url,
// api-key, max-completion-tokens, ...) and token.provider.* (deadline, retries, breaker, bulkhead).
// A request in flight keeps the settings it started with; the keep-alive pool of an upstream that was
// replaced is dropped.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/fake_openai_upstream.hpp"
#include "support/temp_dir.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::FakeOpenAiUpstream;
using lt::test::http_call;
using lt::test::TestApp;

namespace {

constexpr const char* kChat = "/v1/chat/completions";

struct ProviderFile {
    std::string base_url;
    std::string api_key = "sk-a";
    int max_completion_tokens = 50;
    int max_attempts = 1;
    std::optional<std::string> ca_file;
};

void write(const std::filesystem::path& file, const ProviderFile& p) {
    std::ofstream out(file);
    out << "providers:\n  openai:\n    type: openai-compatible\n    base-url: " << p.base_url
        << "\n    api-key: " << p.api_key << "\n    max-completion-tokens: " << p.max_completion_tokens
        << "\n    idle-timeout: 3s\n";
    if (p.ca_file) out << "    ca-file: " << *p.ca_file << "\n";
    out << "token:\n  provider:\n    retry:\n      max-attempts: " << p.max_attempts << "\n      wait: 10ms\n";
}

std::string chat_body(const std::string& text, bool stream = false) {
    boost::json::object o{{"model", "gpt-4o-mini"},
                          {"messages", boost::json::array{boost::json::object{{"role", "user"}, {"content", text}}}},
                          {"stream", stream}};
    if (stream) o["stream_options"] = boost::json::object{{"include_usage", true}};
    return boost::json::serialize(o);
}

std::vector<std::string> strings(const boost::json::value& v) {
    std::vector<std::string> out;
    for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
    return out;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds patience = std::chrono::seconds(5)) {
    const auto until = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
}

/// The app on `file` (ADMIN root), a user with 1000 openai tokens.
struct Fixture {
    explicit Fixture(const std::filesystem::path& file) : app(lt::test::with_admin(), options(file)) {
        root = lt::test::admin(app.port());
        user = lt::test::signup(app.port(), "refresher");
        lt::test::allocate(app.port(), root, "userId", user.id, 1000);
    }
    static lt::app::AppOptions options(const std::filesystem::path& file) {
        lt::app::AppOptions o;
        o.load = lt::config::LoadOptions{};
        o.load->file = file;
        return o;
    }
    /// POST /actuator/refresh as ADMIN: {"changed", "restartRequired"}.
    std::pair<std::vector<std::string>, std::vector<std::string>> refresh() {
        auto r = http_call(app.port(), "POST", "/actuator/refresh", "", root.auth());
        REQUIRE_MESSAGE(r.status == 200, r.body);
        auto body = boost::json::parse(r.body);
        return {strings(body.at("changed")), strings(body.at("restartRequired"))};
    }
    TestApp app;
    lt::test::Account root;
    lt::test::Account user;
};

}  // namespace

TEST_CASE("a refresh moves a provider to another upstream with a new key and limit, a stream in flight keeps the old one, and the old pool is dropped") {
    FakeOpenAiUpstream a;
    FakeOpenAiUpstream b;
    lt::test::TempDir dir{"provider-refresh"};
    const auto file = dir.path() / "leaky-tokens.yml";
    write(file, ProviderFile{a.base_url()});
    Fixture f(file);
    const auto port = f.app.port();

    auto first = http_call(port, "POST", kChat, chat_body("hello"), f.user.auth());
    REQUIRE_MESSAGE(first.status == 200, first.body);
    CHECK(a.requests() == 1);
    CHECK(a.last_body().at("max_tokens").as_int64() == 50);
    CHECK(a.last_authorization() == "Bearer sk-a");
    CHECK(a.open_connections() == 1);  // kept alive in the provider's pool

    // A stream that started on A before the refresh (6 chunks, 150 ms apart).
    lt::test::HttpResult in_flight;
    std::thread streaming(
        [&] { in_flight = http_call(port, "POST", kChat, chat_body("chunks:6 delay:150", true), f.user.auth()); });
    REQUIRE(eventually([&] { return a.requests() == 2; }));

    write(file, ProviderFile{b.base_url(), "sk-b", 3});
    auto [changed, restart] = f.refresh();
    CHECK(changed == std::vector<std::string>{"providers.openai.api-key", "providers.openai.base-url",
                                              "providers.openai.max-completion-tokens"});
    CHECK(restart.empty());

    // The next request goes to B with B's key and the new default completion limit.
    auto second = http_call(port, "POST", kChat, chat_body("hello"), f.user.auth());
    REQUIRE_MESSAGE(second.status == 200, second.body);
    CHECK(b.requests() == 1);
    CHECK(b.last_body().at("max_tokens").as_int64() == 3);
    CHECK(b.last_authorization() == "Bearer sk-b");
    auto reply = boost::json::parse(second.body).as_object();
    CHECK(reply.at("usage").at("completion_tokens").as_int64() == 3);
    CHECK(reply.at("choices").at(0).at("finish_reason") == "length");

    // The stream in flight finished on A with the settings it started with.
    streaming.join();
    REQUIRE_MESSAGE(in_flight.status == 200, in_flight.body);
    CHECK(in_flight.body.find("\"content\":\" w5\"") != std::string::npos);  // all 6 chunks
    CHECK(in_flight.body.find("\"total_tokens\":" + std::to_string(FakeOpenAiUpstream::kPromptTokens + 6)) !=
          std::string::npos);
    CHECK(in_flight.body.find("data: [DONE]") != std::string::npos);
    CHECK(a.requests() == 2);

    // A's pool was dropped: its idle connection at once, the stream's when the stream ended.
    CHECK(eventually([&] { return a.open_connections() == 0; }));
    CHECK(b.open_connections() == 1);
}

TEST_CASE("a refresh of token.provider.retry.max-attempts applies to the next provider call and a new ca-file needs a restart") {
    FakeOpenAiUpstream up;
    lt::test::TempDir dir{"provider-refresh-retry"};
    const auto file = dir.path() / "leaky-tokens.yml";
    write(file, ProviderFile{up.base_url()});
    Fixture f(file);
    const auto port = f.app.port();

    // "broken": the upstream answers 500; one attempt.
    auto once = http_call(port, "POST", kChat, chat_body("broken"), f.user.auth());
    CHECK(once.status == 502);
    CHECK(up.requests() == 1);

    ProviderFile next{up.base_url()};
    next.max_attempts = 3;
    next.ca_file = (dir.path() / "ca.pem").string();
    write(file, next);
    auto [changed, restart] = f.refresh();
    CHECK(changed == std::vector<std::string>{"token.provider.retry.max-attempts"});
    CHECK(restart == std::vector<std::string>{"providers.openai.ca-file"});

    auto thrice = http_call(port, "POST", kChat, chat_body("broken"), f.user.auth());
    CHECK(thrice.status == 502);
    CHECK(up.requests() == 4);
    // The provider still works with the settings it kept.
    auto fine = http_call(port, "POST", kChat, chat_body("hello"), f.user.auth());
    CHECK_MESSAGE(fine.status == 200, fine.body);
}
