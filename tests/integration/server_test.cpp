// The kernel's HTTP behaviour through the whole application, over real sockets.
#include <doctest/doctest.h>

#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "lt/http/client.hpp"

#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::TestApp;
using lt::test::TestConnection;

namespace {
void check_security_headers(const lt::test::HttpResult& r) {
    CHECK(r.header("x-content-type-options") == "nosniff");
    CHECK(r.header("x-frame-options") == "DENY");
    CHECK(r.header("referrer-policy") == "no-referrer");
    CHECK(r.header("permissions-policy") == "geolocation=(), microphone=(), camera=()");
    CHECK(r.header("strict-transport-security") == "max-age=31536000; includeSubDomains");
    CHECK_FALSE(r.header("x-correlation-id").empty());
}
}  // namespace

TEST_CASE("one keep-alive connection serves 1000 requests in a row") {
    TestApp app(lt::test::open_gateway({"gateway.rate-limit.enabled=false"}));
    TestConnection c(app.port());
    int ok = 0;
    for (int i = 0; i < 1000; ++i) {
        auto r = c.request("POST", "/api/v1/openai/chat", R"({"prompt":"hello )" + std::to_string(i) + "\"}");
        ok += r.status == 200 && r.keep_alive ? 1 : 0;
    }
    CHECK(ok == 1000);
}

TEST_CASE("a malformed request line is answered 400 with a JSON body") {
    TestApp app(lt::test::open_gateway());
    TestConnection c(app.port());
    auto r = c.raw("GARBAGE\r\n\r\n");
    CHECK(r.status == 400);
    auto body = boost::json::parse(r.body).as_object();
    CHECK(body.at("status") == 400);
    CHECK(body.at("error") == "Bad Request");
    check_security_headers(r);
}

TEST_CASE("a body over the limit is answered 413") {
    TestApp app(lt::test::open_gateway({"server.body-limit=1024"}));
    TestConnection c(app.port());
    std::string big = R"({"prompt":")" + std::string(2000, 'x') + "\"}";
    auto r = c.request("POST", "/api/v1/openai/chat", big);
    CHECK(r.status == 413);
    auto body = boost::json::parse(r.body).as_object();
    CHECK(body.at("status") == 413);
    CHECK(body.at("path").as_string() == "/api/v1/openai/chat");  // CONTRACT 1: the full error body
    CHECK(body.at("message").as_string() == "request body too large");
    check_security_headers(r);
    // Just under the limit still works on a new connection.
    auto small = lt::test::http_call(app.port(), "POST", "/api/v1/openai/chat", R"({"prompt":"x"})");
    CHECK(small.status == 200);
}

TEST_CASE("the default body limit is 1 MiB") {
    TestApp app(lt::test::open_gateway());
    std::string big = R"({"prompt":")" + std::string(1024 * 1024, 'x') + "\"}";
    auto r = lt::test::http_call(app.port(), "POST", "/api/v1/openai/chat", big);
    CHECK(r.status == 413);
}

TEST_CASE("an unknown path is a 404 JSON error with security headers and the correlation id") {
    TestApp app(lt::test::open_gateway());
    auto r = lt::test::http_call(app.port(), "GET", "/no/such/path?x=1", "", {{"X-Correlation-Id", "abc-123_x.y"}});
    CHECK(r.status == 404);
    check_security_headers(r);
    CHECK(r.header("x-correlation-id") == "abc-123_x.y");
    CHECK(r.header("content-type") == "application/json");
    auto body = boost::json::parse(r.body).as_object();
    CHECK(body.at("status") == 404);
    CHECK(body.at("error") == "Not Found");
    CHECK(body.at("path") == "/no/such/path");
    CHECK(body.contains("message"));
    CHECK(body.contains("timestamp"));
}

TEST_CASE("an unusable incoming correlation id is replaced by a generated UUID") {
    TestApp app(lt::test::open_gateway());
    auto bad = lt::test::http_call(app.port(), "GET", "/actuator/health", "", {{"X-Correlation-Id", "has spaces!"}});
    auto id = bad.header("x-correlation-id");
    CHECK(id.size() == 36);
    CHECK(id != "has spaces!");
    auto too_long = lt::test::http_call(app.port(), "GET", "/actuator/health", "",
                                        {{"X-Correlation-Id", std::string(129, 'a')}});
    CHECK(too_long.header("x-correlation-id").size() == 36);
    auto none = lt::test::http_call(app.port(), "GET", "/actuator/health");
    CHECK(none.header("x-correlation-id").size() == 36);
}

TEST_CASE("a known path with the wrong method is 405 with an Allow header") {
    TestApp app(lt::test::open_gateway());
    auto r = lt::test::http_call(app.port(), "DELETE", "/api/v1/openai/chat");
    CHECK(r.status == 405);
    CHECK(r.header("allow").find("POST") != std::string::npos);
    CHECK(boost::json::parse(r.body).as_object().at("status") == 405);
    check_security_headers(r);
}

TEST_CASE("health, liveness, readiness and info answer UP with the hosted modules") {
    TestApp app(lt::test::open_gateway());
    for (const char* p : {"/actuator/health", "/actuator/health/liveness", "/actuator/health/readiness"}) {
        auto r = lt::test::http_call(app.port(), "GET", p);
        CHECK(r.status == 200);
        CHECK(boost::json::parse(r.body).as_object().at("status") == "UP");
    }
    auto health = boost::json::parse(lt::test::http_call(app.port(), "GET", "/actuator/health").body).as_object();
    CHECK(health.at("components").as_object().at("providers").as_object().at("status") == "UP");
    auto info = boost::json::parse(lt::test::http_call(app.port(), "GET", "/actuator/info").body).as_object();
    CHECK(info.at("modules").as_array().size() >= 2);
    CHECK(!info.at("app").as_object().at("version").as_string().empty());
}

TEST_CASE("the prometheus endpoint counts requests by method, route template and status and passes promtool") {
    TestApp app(lt::test::open_gateway());
    lt::test::http_call(app.port(), "POST", "/api/v1/openai/chat", R"({"prompt":"x"})");
    lt::test::http_call(app.port(), "GET", "/missing");
    auto r = lt::test::http_call(app.port(), "GET", "/actuator/prometheus");
    CHECK(r.status == 200);
    CHECK(r.header("content-type").find("text/plain") == 0);
    CHECK(r.body.find(R"(http_server_requests_seconds_count{method="POST",uri="/api/v1/openai/chat",status="200"} 1)") !=
          std::string::npos);
    CHECK(r.body.find(R"(uri="NOT_FOUND",status="404")") != std::string::npos);
    lt::test::TempDir dir;
    auto file = dir.path() / "metrics.txt";
    {
        std::FILE* f = std::fopen(file.c_str(), "w");
        REQUIRE(f);
        std::fwrite(r.body.data(), 1, r.body.size(), f);
        std::fclose(f);
    }
    int rc = std::system(("promtool check metrics < " + file.string() + " > /dev/null 2>&1").c_str());
    CHECK_MESSAGE(rc == 0, "promtool rejected /actuator/prometheus (is Debian's prometheus package installed?)");
}

TEST_CASE("CORS preflight from an allowed origin is answered by the server") {
    TestApp app(lt::test::open_gateway({"cors.enabled=true", "cors.allowed-origins=https://app.example"}));
    auto pre = lt::test::http_call(app.port(), "OPTIONS", "/api/v1/openai/chat", "",
                                   {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});
    CHECK(pre.status == 204);
    CHECK(pre.header("access-control-allow-origin") == "https://app.example");
    CHECK(pre.header("access-control-allow-methods").find("POST") != std::string::npos);
    auto denied = lt::test::http_call(app.port(), "OPTIONS", "/api/v1/openai/chat", "",
                                      {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
    CHECK(denied.status == 403);
    auto simple = lt::test::http_call(app.port(), "POST", "/api/v1/openai/chat", R"({"prompt":"x"})",
                                      {{"Origin", "https://app.example"}});
    CHECK(simple.status == 200);
    CHECK(simple.header("access-control-allow-origin") == "https://app.example");
}

TEST_CASE("requests beyond the in-flight cap are answered 503") {
    TestApp app(lt::test::open_gateway({"server.max-in-flight=1", "providers.openai.latency=400ms"}));
    std::thread slow([&] { lt::test::http_call(app.port(), "POST", "/api/v1/openai/chat", R"({"prompt":"x"})"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    auto r = lt::test::http_call(app.port(), "POST", "/api/v1/openai/chat", R"({"prompt":"y"})");
    slow.join();
    CHECK(r.status == 503);
    CHECK(boost::json::parse(r.body).as_object().at("status") == 503);
}

TEST_CASE("request headers over the limit are answered 431") {
    TestApp app(lt::test::open_gateway({"server.header-limit=2048"}));
    TestConnection c(app.port());
    auto r = c.request("GET", "/actuator/health", "", {{"X-Big", std::string(4000, 'h')}});
    CHECK(r.status == 431);
    CHECK(boost::json::parse(r.body).as_object().at("status") == 431);
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout") {
    TestApp app(lt::test::open_gateway({"server.idle-timeout=200ms"}));
    TestConnection c(app.port());
    CHECK(c.request("GET", "/actuator/health").status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    char byte;
    boost::system::error_code ec;
    c.socket().read_some(boost::asio::buffer(&byte, 1), ec);
    CHECK(ec == boost::asio::error::eof);
}

TEST_CASE("the HTTP client recovers when every pooled connection was closed by the peer") {
    // The split-mode proxy's pool: after the server closed its idle connections, a call must open a
    // fresh one instead of failing on a second stale pooled one.
    TestApp app(lt::test::open_gateway({"server.idle-timeout=200ms"}));
    boost::asio::io_context io;
    lt::http::Client client(io.get_executor());
    auto call = [&]() -> boost::asio::awaitable<int> {
        lt::http::ClientRequest req;
        req.method = "GET";
        req.target = "/actuator/health";
        auto op = client.request("127.0.0.1", app.port(), std::move(req), std::chrono::seconds(5));
        auto r = co_await std::move(op);
        co_return r ? r->status : -1;
    };
    std::vector<std::future<int>> first;
    for (int i = 0; i < 4; ++i) first.push_back(boost::asio::co_spawn(io, call(), boost::asio::use_future));
    io.run();
    for (auto& f : first) CHECK(f.get() == 200);  // four connections now idle in the pool
    std::this_thread::sleep_for(std::chrono::milliseconds(600));  // the server closed them all
    io.restart();
    auto again = boost::asio::co_spawn(io, call(), boost::asio::use_future);
    io.run();
    CHECK(again.get() == 200);
}

TEST_CASE("a request that stalls half-way is dropped after the read timeout") {
    TestApp app(lt::test::open_gateway({"server.read-timeout=200ms"}));
    TestConnection c(app.port());
    boost::asio::write(c.socket(), boost::asio::buffer(std::string(
                                       "POST /api/v1/openai/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pro")));
    auto t0 = std::chrono::steady_clock::now();
    char buf[512];
    boost::system::error_code ec;
    std::size_t n = 0;
    while (!ec) n += c.socket().read_some(boost::asio::buffer(buf), ec);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
    CHECK(n == 0);  // nothing answered: the connection was closed
}
