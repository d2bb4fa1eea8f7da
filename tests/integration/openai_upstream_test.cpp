// An openai-compatible upstream over HTTPS (providers.<name>.type openai-compatible): a local TLS
// server with a throwaway CA answers chat completions; the gateway verifies its certificate, sends
// the API key and the lowered completion limit, and charges exactly the upstream's usage.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/temp_dir.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace bhttp = boost::beast::http;

namespace {

/// A CA and a certificate for "localhost" signed by it, made with the openssl CLI.
bool make_certificates(const std::filesystem::path& dir) {
    auto d = dir.string();
    std::ofstream(dir / "ext.cnf") << "subjectAltName=DNS:localhost\n";
    std::string cmd = "(cd '" + d + "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 "
                      "-subj /CN=lt-test-ca && openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr "
                      "-subj /CN=localhost && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                      "-out srv.pem -days 1 -extfile ext.cnf)";
    cmd += " >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

/// A TLS server on 127.0.0.1 answering every POST with a canned chat completion.
class FakeUpstream {
public:
    explicit FakeUpstream(const std::filesystem::path& dir) : tls_(ssl::context::tls_server), acceptor_(io_) {
        tls_.use_certificate_chain_file((dir / "srv.pem").string());
        tls_.use_private_key_file((dir / "srv.key").string(), ssl::context::pem);
        asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(ep.protocol());
        acceptor_.bind(ep);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeUpstream() {
        stop_ = true;
        boost::system::error_code ec;
        asio::ip::tcp::socket poke(io_);
        poke.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
        thread_.join();
    }
    std::uint16_t port() const { return port_; }
    std::string last_authorization() {
        std::lock_guard lock(mutex_);
        return authorization_;
    }
    boost::json::object last_body() {
        std::lock_guard lock(mutex_);
        return body_;
    }

private:
    void serve() {
        while (!stop_) {
            asio::ip::tcp::socket socket(io_);
            boost::system::error_code ec;
            acceptor_.accept(socket, ec);
            if (ec || stop_) continue;
            boost::beast::ssl_stream<asio::ip::tcp::socket> stream(std::move(socket), tls_);
            stream.handshake(ssl::stream_base::server, ec);
            if (ec) continue;  // e.g. a client that does not trust us
            boost::beast::flat_buffer buffer;
            bhttp::request<bhttp::string_body> req;
            bhttp::read(stream, buffer, req, ec);
            if (ec) continue;
            {
                std::lock_guard lock(mutex_);
                authorization_ = std::string(req[bhttp::field::authorization]);
                body_ = boost::json::parse(req.body()).as_object();
            }
            boost::json::object reply{
                {"id", "chatcmpl-upstream-1"},
                {"object", "chat.completion"},
                {"created", 1700000000},
                {"model", "gpt-4o-mini-2024-07-18"},
                {"choices", boost::json::array{boost::json::object{
                                {"index", 0},
                                {"message", {{"role", "assistant"}, {"content", "Hello from upstream"}}},
                                {"finish_reason", "stop"}}}},
                {"usage", {{"prompt_tokens", 7}, {"completion_tokens", 5}, {"total_tokens", 12}}}};
            bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
            res.set(bhttp::field::content_type, "application/json");
            res.body() = boost::json::serialize(reply);
            res.keep_alive(false);
            res.prepare_payload();
            bhttp::write(stream, res, ec);
            stream.shutdown(ec);
        }
    }

    asio::io_context io_;
    ssl::context tls_;
    asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;  ///< guards authorization_, body_
    std::string authorization_;
    boost::json::object body_;
    std::thread thread_;
};

std::string chat(bool stream) {
    boost::json::object o{{"model", "gpt-4o-mini"},
                          {"messages", boost::json::array{boost::json::object{{"role", "user"}, {"content", "Hi"}}}},
                          {"max_tokens", 100},
                          {"stream", stream}};
    if (stream) o["stream_options"] = boost::json::object{{"include_usage", true}};
    return boost::json::serialize(o);
}

}  // namespace

TEST_CASE("an openai-compatible upstream over HTTPS with a private CA answers chat completions, charged exactly") {
    lt::test::TempDir certs;
    if (!make_certificates(certs.path())) {
        MESSAGE("SKIPPED: the openssl CLI could not make a throwaway CA");
        return;
    }
    FakeUpstream upstream(certs.path());
    const std::string base = "https://localhost:" + std::to_string(upstream.port()) + "/v1";
    lt::test::TestApp app(lt::test::with_admin({"providers.openai.type=openai-compatible", "providers.openai.base-url=" + base,
                                                "providers.openai.api-key=sk-upstream-secret",
                                                "providers.openai.ca-file=" + (certs.path() / "ca.pem").string()}));
    auto root = lt::test::admin(app.port());
    auto user = lt::test::signup(app.port(), "tls");
    lt::test::allocate(app.port(), root, "userId", user.id, 1000);

    auto r = lt::test::http_call(app.port(), "POST", "/v1/chat/completions", chat(false), user.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto o = boost::json::parse(r.body).as_object();
    CHECK(o.at("choices").as_array().at(0).as_object().at("message").as_object().at("content") == "Hello from upstream");
    CHECK(o.at("usage").as_object().at("total_tokens").as_int64() == 12);
    CHECK(upstream.last_authorization() == "Bearer sk-upstream-secret");
    auto sent = upstream.last_body();
    CHECK(sent.at("model") == "gpt-4o-mini");
    CHECK(sent.at("max_tokens").as_int64() == 100);
    auto q = lt::test::http_call(app.port(), "GET", "/api/v1/tokens/quota?userId=" + user.id + "&provider=openai", "",
                                 user.auth());
    CHECK(boost::json::parse(q.body).as_object().at("remainingTokens").as_int64() == 1000 - 12);

    auto s = lt::test::http_call(app.port(), "POST", "/v1/chat/completions", chat(true), user.auth());
    REQUIRE(s.status == 200);
    CHECK(s.body.find("Hello from upstream") != std::string::npos);
    CHECK(s.body.find("\"total_tokens\":12") != std::string::npos);
    CHECK(s.body.find("data: [DONE]") != std::string::npos);
}

TEST_CASE("an upstream whose certificate is not trusted is a 502 and nothing is charged") {
    lt::test::TempDir certs;
    if (!make_certificates(certs.path())) {
        MESSAGE("SKIPPED: the openssl CLI could not make a throwaway CA");
        return;
    }
    FakeUpstream upstream(certs.path());
    const std::string base = "https://localhost:" + std::to_string(upstream.port()) + "/v1";
    lt::test::TestApp app(lt::test::with_admin({"providers.openai.type=openai-compatible", "providers.openai.base-url=" + base,
                                                "token.provider.retry.max-attempts=1"}));
    auto root = lt::test::admin(app.port());
    auto user = lt::test::signup(app.port(), "untrusted");
    lt::test::allocate(app.port(), root, "userId", user.id, 1000);
    auto r = lt::test::http_call(app.port(), "POST", "/v1/chat/completions", chat(false), user.auth());
    CHECK(r.status == 502);
    CHECK(r.body.find("upstream_error") != std::string::npos);
    CHECK(upstream.last_authorization().empty());  // no request was ever sent to it
    auto q = lt::test::http_call(app.port(), "GET", "/api/v1/tokens/quota?userId=" + user.id + "&provider=openai", "",
                                 user.auth());
    CHECK(boost::json::parse(q.body).as_object().at("remainingTokens").as_int64() == 1000);
}
