// Request ids and trace ids on every log line written for a request (module loggers included), in
// both log formats; and chat completions counted into token_consumed_tokens_total.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"

namespace json = boost::json;

namespace {

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

std::vector<std::string> lines_of(const std::string& path) {
    std::vector<std::string> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

/// Registers `name` with a client traceparent and returns the response's X-Request-Id.
std::string traced_signup(std::uint16_t port, const std::string& name) {
    auto r = lt::test::http_call(port, "POST", "/api/v1/auth/register",
                                 json::serialize(json::object{{"username", name},
                                                              {"email", name + "@example.com"},
                                                              {"password", "pw-" + name + "-123"}}),
                                 {{"traceparent", std::string("00-") + kTrace + "-00f067aa0ba902b7-01"}});
    REQUIRE_MESSAGE(r.status == 201, r.body);
    auto id = r.header("x-request-id");
    REQUIRE_FALSE(id.empty());
    return id;
}

}  // namespace

TEST_CASE("with log.format json a module's log line written for a request carries its request_id and trace_id") {
    lt::test::TempDir dir;
    std::string log_path, request_id;
    {
        lt::test::ServerSpec spec{{"log.format=json"}};
        spec.log_level = "info";
        lt::test::ServerProcess server(dir.path(), lt::test::free_port(), spec);
        log_path = (server.dir() / "server.log").string();
        request_id = traced_signup(server.port(), "logged");
    }
    bool found = false;
    std::size_t outside = 0;
    for (const auto& line : lines_of(log_path)) {
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        if (ec || !v.is_object()) continue;
        const auto& o = v.as_object();
        if (o.contains("msg") && o.at("msg") == "user registered") {
            CHECK(o.at("logger") == "auth");
            REQUIRE(o.contains("request_id"));
            CHECK(o.at("request_id") == json::string(request_id));
            REQUIRE(o.contains("trace_id"));
            CHECK(o.at("trace_id") == kTrace);
            found = true;
        }
        if (o.contains("msg") && o.at("msg") == "module started") {
            CHECK_FALSE(o.contains("request_id"));  // written outside any request
            ++outside;
        }
    }
    CHECK_MESSAGE(found, "no 'user registered' line in " << log_path);
    CHECK(outside >= 1);
}

TEST_CASE("with log.format text a line written for a request starts its message with the req and trace prefix") {
    lt::test::TempDir dir;
    std::string log_path, request_id;
    {
        lt::test::ServerSpec spec{{"log.format=text"}};
        spec.log_level = "info";
        lt::test::ServerProcess server(dir.path(), lt::test::free_port(), spec);
        log_path = (server.dir() / "server.log").string();
        request_id = traced_signup(server.port(), "texted");
    }
    const std::string prefix = "[auth] [req=" + request_id + " trace=" + kTrace + "] user registered";
    bool found = false;
    for (const auto& line : lines_of(log_path)) found = found || line.find(prefix) != std::string::npos;
    CHECK_MESSAGE(found, "no line with '" << prefix << "' in " << log_path);
}

TEST_CASE("a chat completion counts its tokens in token_consumed_tokens_total by provider, model and outcome") {
    lt::test::TempDir dir;
    lt::test::ServerProcess server(dir.path(), lt::test::free_port(), lt::test::ServerSpec{lt::test::with_admin({})});
    auto u = lt::test::signup(server.port(), "chatter");
    lt::test::allocate(server.port(), lt::test::admin(server.port()), "userId", u.id, 1000);
    json::object body{{"model", "gpt-4o-mini"},
                      {"messages", json::array{json::object{{"role", "user"}, {"content", "Hello there"}}}}};
    auto r = lt::test::http_call(server.port(), "POST", "/v1/chat/completions", json::serialize(body), u.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    const auto reply = json::parse(r.body);
    const auto charged = reply.at("usage").at("total_tokens").as_int64();
    REQUIRE(charged > 0);

    auto scrape = lt::test::http_call(server.port(), "GET", "/actuator/prometheus");
    REQUIRE(scrape.status == 200);
    // One sample line: token_consumed_tokens_total{[application=…,]provider=…,model=…,outcome=…} <value>
    double value = -1;
    std::istringstream in(scrape.body);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("token_consumed_tokens_total{", 0) != 0) continue;
        if (line.find(R"(provider="openai")") == std::string::npos ||
            line.find(R"(model="gpt-4o-mini")") == std::string::npos ||
            line.find(R"(outcome="allowed")") == std::string::npos) {
            continue;
        }
        value = std::stod(line.substr(line.rfind(' ') + 1));
    }
    CHECK_MESSAGE(value == static_cast<double>(charged), "token_consumed_tokens_total of gpt-4o-mini: " << value);
}
