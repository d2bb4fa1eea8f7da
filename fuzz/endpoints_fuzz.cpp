// libFuzzer target: every JSON (and form) endpoint of the whole application — body parsing and DTO
// validation in each module's handler — through the real kernel, gateway and modules, in-process on
// loopback (embedded profile, in-memory SQLite, stub providers). The first input byte picks the
// endpoint, the rest is the body; requests carry the bootstrap ADMIN's JWT so that validation past
// the authorization checks is reached. Invariants: every answer is a complete HTTP response with a
// status below 500 and a body that is valid UTF-8 (JSON when the content type says so); the server
// keeps serving.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "app.hpp"
#include "lt/core/config.hpp"
#include "lt/core/json.hpp"
#include "module_list.hpp"

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

struct Endpoint {
    const char* method;
    std::string target;
};

class Fixture {
public:
    Fixture() {
        dir_ = std::filesystem::temp_directory_path() / ("lt-endpoints-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        lt::config::LoadOptions load;
        load.read_env = false;
        load.overrides = {"server.port=0", "server.address=127.0.0.1", "storage.data-dir=" + dir_.string(),
                          "log.level=off", "log.access=false", "server.threads=1",
                          "auth.bootstrap-admin.username=root", "auth.bootstrap-admin.password=root-password-1",
                          "auth.login.limit-enabled=false", "gateway.rate-limit.enabled=false"};
        auto cfg = lt::config::load(lt::app::full_schema(), load);
        if (!cfg) {
            std::fprintf(stderr, "config: %s\n", cfg.error().message.c_str());
            std::abort();
        }
        lt::app::AppOptions options;
        options.handle_signals = false;
        auto a = lt::app::App::create(std::move(*cfg), options);
        if (!a) std::abort();
        app_ = std::move(*a);
        if (auto started = app_->start(); !started) {
            std::fprintf(stderr, "start: %s\n", started.error().message.c_str());
            std::abort();
        }
        connect();
        auto login = call("POST", "/api/v1/auth/login", R"({"username":"root","password":"root-password-1"})");
        if (login.result_int() != 200) std::abort();
        auto o = boost::json::parse(login.body()).as_object();
        token_ = std::string(o.at("token").as_string());
        user_ = std::string(o.at("userId").as_string());
        const std::string org = "00000000-0000-4000-8000-00000000000a";
        endpoints_ = {
            {"POST", "/api/v1/auth/register"},
            {"POST", "/api/v1/auth/login"},
            {"POST", "/api/v1/auth/api-keys"},
            {"POST", "/oauth2/token"},
            {"POST", "/oauth2/revoke"},
            {"POST", "/api/v1/tokens/consume"},
            {"POST", "/api/v1/tokens/orgs"},
            {"POST", "/api/v1/tokens/purchase"},
            {"PUT", "/api/v1/tokens/quota"},
            {"PUT", "/api/v1/tokens/orgs/" + org + "/members/" + user_},
            {"POST", "/api/v1/openai/chat"},
            {"POST", "/api/v1/gemini/chat"},
            {"POST", "/api/v1/qwen/chat"},
            {"POST", "/v1/chat/completions"},
            {"POST", "/encrypt"},
            {"POST", "/eureka/apps/FUZZ"},
        };
    }
    ~Fixture() {
        app_->shutdown();
        app_->wait();
    }

    void run(const std::uint8_t* data, std::size_t size) {
        if (size == 0) return;
        const auto& e = endpoints_[data[0] % endpoints_.size()];
        std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
        auto res = call(e.method, e.target, std::move(body));
        if (res.result_int() >= 500 && res.result_int() != 503) {
            std::fprintf(stderr, "status %d on %s %s: %s\n", res.result_int(), e.method, e.target.c_str(),
                         res.body().c_str());
            __builtin_trap();
        }
        if (lt::valid_utf8(res.body()) != res.body()) __builtin_trap();
        auto type = res[bhttp::field::content_type];
        if (type.starts_with("application/json") && !res.body().empty()) {
            boost::system::error_code ec;
            (void)boost::json::parse(res.body(), ec);
            if (ec) __builtin_trap();
        }
    }

private:
    void connect() {
        socket_ = std::make_unique<asio::ip::tcp::socket>(io_);
        socket_->connect({asio::ip::make_address("127.0.0.1"), app_->port()});
    }

    bhttp::response<bhttp::string_body> call(const char* method, const std::string& target, std::string body) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
            req.set(bhttp::field::host, "localhost");
            req.set(bhttp::field::content_type, target.starts_with("/oauth2/") ? "application/x-www-form-urlencoded"
                                                                              : "application/json");
            if (!token_.empty()) req.set(bhttp::field::authorization, "Bearer " + token_);
            req.body() = body;
            req.prepare_payload();
            boost::beast::error_code ec;
            bhttp::write(*socket_, req, ec);
            bhttp::response<bhttp::string_body> res;
            if (!ec) bhttp::read(*socket_, buffer_, res, ec);
            if (!ec) {
                if (!res.keep_alive()) connect();
                return res;
            }
            connect();  // the server closed the connection (an early error answer): once more
        }
        std::fprintf(stderr, "no answer for %s %s\n", method, target.c_str());
        __builtin_trap();
    }

    std::filesystem::path dir_;
    std::unique_ptr<lt::app::App> app_;
    asio::io_context io_;
    std::unique_ptr<asio::ip::tcp::socket> socket_;
    boost::beast::flat_buffer buffer_;
    std::string token_;
    std::string user_;
    std::vector<Endpoint> endpoints_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture* fixture = new Fixture();  // lives for the process (libFuzzer exits without teardown)
    fixture->run(data, size);
    return 0;
}
