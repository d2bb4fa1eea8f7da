#pragma once
// A fake OpenAI-compatible upstream for tests: POST .../chat/completions over HTTP or HTTPS (a
// throwaway CA made with the openssl CLI), keep-alive, one thread per connection. What it does is
// chosen by words in the last message's content:
//   chunks:N   completion of N one-word chunks (default 5), cut at max_tokens unless `overrun`
//   delay:MS   pause before each chunk (default 0)
//   overrun    ignores max_tokens (keeps producing past it)
//   fail       breaks the connection off after 2 chunks
//   stall      stops sending after 2 chunks (for 5 s)
//   refuse     answers 429 with OpenAI's error body
//   broken     answers 500
// Usage reported: prompt_tokens 11, completion_tokens = chunks produced (streams: only with
// stream_options.include_usage, as OpenAI does).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <list>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

namespace lt::test {

/// A CA and a certificate for "localhost" signed by it, made with the openssl CLI.
inline bool make_test_certificates(const std::filesystem::path& dir) {
    auto d = dir.string();
    std::ofstream(dir / "ext.cnf") << "subjectAltName=DNS:localhost\n";
    std::string cmd = "(cd '" + d + "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 "
                      "-subj /CN=lt-test-ca && openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr "
                      "-subj /CN=localhost && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                      "-out srv.pem -days 1 -extfile ext.cnf) >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

class FakeOpenAiUpstream {
public:
    static constexpr long long kPromptTokens = 11;

    /// `cert_dir`: serve HTTPS with srv.pem/srv.key from there; nullopt: plain HTTP.
    /// `close_after_each`: close every connection shortly after its response (a keep-alive peer that
    /// drops idle connections).
    explicit FakeOpenAiUpstream(std::optional<std::filesystem::path> cert_dir = std::nullopt, bool close_after_each = false)
        : tls_(boost::asio::ssl::context::tls_server), acceptor_(io_), close_after_each_(close_after_each) {
        if (cert_dir) {
            tls_.use_certificate_chain_file((*cert_dir / "srv.pem").string());
            tls_.use_private_key_file((*cert_dir / "srv.key").string(), boost::asio::ssl::context::pem);
            secure_ = true;
        }
        boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(ep.protocol());
        acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        thread_ = std::thread([this] { accept_loop(); });
    }
    ~FakeOpenAiUpstream() {
        stop_ = true;
        boost::system::error_code ec;
        boost::asio::ip::tcp::socket poke(io_);
        poke.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
        thread_.join();
        std::lock_guard lock(mutex_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);  // wakes connection threads blocked in a read
        for (auto& t : workers_) t.join();
    }
    std::uint16_t port() const { return port_; }
    /// base-url for providers.<name>.base-url.
    std::string base_url() const {
        return std::string(secure_ ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(port_) + "/v1";
    }
    int connections() const { return connections_.load(); }
    /// Connections accepted and not yet closed (by either side).
    int open_connections() const { return open_.load(); }
    int requests() const { return requests_.load(); }
    boost::json::object last_body() {
        std::lock_guard lock(mutex_);
        return body_;
    }
    std::string last_authorization() {
        std::lock_guard lock(mutex_);
        return authorization_;
    }

private:
    template <class Stream>
    void serve(Stream& stream) {
        namespace bhttp = boost::beast::http;
        boost::beast::flat_buffer buffer;
        for (;;) {
            boost::system::error_code ec;
            bhttp::request<bhttp::string_body> req;
            bhttp::read(stream, buffer, req, ec);
            if (ec || stop_) return;
            ++requests_;
            boost::json::object body;
            try {
                body = boost::json::parse(req.body()).as_object();
            } catch (...) {
            }
            {
                std::lock_guard lock(mutex_);
                body_ = body;
                authorization_ = std::string(req[bhttp::field::authorization]);
            }
            std::string text;
            if (auto* m = body.if_contains("messages"); m && m->is_array() && !m->as_array().empty()) {
                const auto& last = m->as_array().back().as_object();
                if (auto* c = last.if_contains("content"); c && c->is_string()) text = std::string(c->as_string());
            }
            auto number = [&](const std::string& key, long long fallback) {
                std::smatch mm;
                std::regex re(key + ":(\\d+)");
                return std::regex_search(text, mm, re) ? std::stoll(mm[1]) : fallback;
            };
            long long chunks = number("chunks", 5);
            long long delay = number("delay", 0);
            long long max_tokens = 1 << 30;
            if (auto* mt = body.if_contains("max_tokens"); mt && mt->is_int64()) max_tokens = mt->as_int64();
            bool overrun = text.find("overrun") != std::string::npos;
            long long produce = overrun ? chunks : std::min(chunks, max_tokens);
            bool streamed = body.contains("stream") && body.at("stream").is_bool() && body.at("stream").as_bool();
            bool include_usage = false;
            if (auto* so = body.if_contains("stream_options"); so && so->is_object()) {
                auto* iu = so->as_object().if_contains("include_usage");
                include_usage = iu && iu->is_bool() && iu->as_bool();
            }
            if (text.find("refuse") != std::string::npos || text.find("broken") != std::string::npos) {
                bool refuse = text.find("refuse") != std::string::npos;
                bhttp::response<bhttp::string_body> res{refuse ? bhttp::status::too_many_requests
                                                               : bhttp::status::internal_server_error, 11};
                res.set(bhttp::field::content_type, "application/json");
                res.body() = refuse ? R"({"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests","param":null,"code":"rate_limit_exceeded"}})"
                                    : R"({"error":{"message":"boom","type":"server_error","param":null,"code":null}})";
                res.keep_alive(true);
                res.prepare_payload();
                bhttp::write(stream, res, ec);
                if (ec) return;
                continue;
            }
            auto usage = [&](long long completion) {
                return boost::json::object{{"prompt_tokens", kPromptTokens},
                                           {"completion_tokens", completion},
                                           {"total_tokens", kPromptTokens + completion}};
            };
            if (!streamed) {
                std::string content;
                for (long long i = 0; i < produce; ++i) content += (i ? " w" : "w") + std::to_string(i);
                boost::json::object reply{
                    {"id", "chatcmpl-fake"}, {"object", "chat.completion"}, {"created", 1700000000}, {"model", "fake"},
                    {"choices", boost::json::array{boost::json::object{
                                    {"index", 0},
                                    {"message", {{"role", "assistant"}, {"content", content}}},
                                    {"finish_reason", produce < chunks ? "length" : "stop"}}}},
                    {"usage", usage(produce)}};
                bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
                res.set(bhttp::field::content_type, "application/json");
                res.body() = boost::json::serialize(reply);
                res.keep_alive(true);
                res.prepare_payload();
                bhttp::write(stream, res, ec);
                if (ec) return;
                if (close_after_each_) return;
                continue;
            }
            // Streamed: chunked transfer encoding, one SSE event per chunk.
            bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
            head.set(bhttp::field::content_type, "text/event-stream");
            head.chunked(true);
            head.keep_alive(true);
            bhttp::response_serializer<bhttp::empty_body> sr{head};
            bhttp::write_header(stream, sr, ec);
            if (ec) return;
            auto send = [&](const std::string& event) {
                std::string payload = "data: " + event + "\n\n";
                char size[32];
                std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
                std::string frame = size + payload + "\r\n";
                boost::asio::write(stream, boost::asio::buffer(frame), ec);
                return !ec;
            };
            auto chunk = [&](boost::json::object delta, boost::json::value finish) {
                boost::json::object o{{"id", "chatcmpl-fake"}, {"object", "chat.completion.chunk"}, {"created", 1700000000},
                                      {"model", "fake"},
                                      {"choices", boost::json::array{boost::json::object{
                                                      {"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish}}}}};
                return boost::json::serialize(o);
            };
            if (!send(chunk({{"role", "assistant"}, {"content", ""}}, nullptr))) return;
            bool fail = text.find("fail") != std::string::npos;
            bool stall = text.find("stall") != std::string::npos;
            for (long long i = 0; i < produce; ++i) {
                if ((fail || stall) && i == 2) {
                    if (stall) {
                        for (int k = 0; k < 50 && !stop_; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(100));
                    }
                    return;  // the connection breaks off without the chunked terminator
                }
                if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
                if (!send(chunk({{"content", (i ? " w" : "w") + std::to_string(i)}}, nullptr))) return;
            }
            if (!send(chunk({}, produce < chunks ? "length" : "stop"))) return;
            if (include_usage) {
                boost::json::object u{{"id", "chatcmpl-fake"}, {"object", "chat.completion.chunk"}, {"created", 1700000000},
                                      {"model", "fake"}, {"choices", boost::json::array{}}, {"usage", usage(produce)}};
                if (!send(boost::json::serialize(u))) return;
            }
            if (!send("[DONE]")) return;
            boost::asio::write(stream, boost::asio::buffer(std::string("0\r\n\r\n")), ec);
            if (ec || close_after_each_) return;
        }
    }

    void connection(boost::asio::ip::tcp::socket socket) {
        struct Open {
            std::atomic<int>& n;
            ~Open() { --n; }
        } open{open_};
        socket.set_option(boost::asio::ip::tcp::no_delay(true));
        if (!secure_) {
            serve(socket);
            boost::system::error_code ec;
            socket.shutdown(boost::asio::socket_base::shutdown_both, ec);
            return;
        }
        boost::beast::ssl_stream<boost::asio::ip::tcp::socket> stream(std::move(socket), tls_);
        boost::system::error_code ec;
        stream.handshake(boost::asio::ssl::stream_base::server, ec);
        if (ec) return;
        serve(stream);
        boost::beast::get_lowest_layer(stream).shutdown(boost::asio::socket_base::shutdown_both, ec);
    }

    void accept_loop() {
        while (!stop_) {
            boost::asio::ip::tcp::socket socket(io_);
            boost::system::error_code ec;
            acceptor_.accept(socket, ec);
            if (ec || stop_) continue;
            ++connections_;
            ++open_;
            std::lock_guard lock(mutex_);
            fds_.push_back(socket.native_handle());
            workers_.emplace_back([this, s = std::move(socket)]() mutable { connection(std::move(s)); });
        }
    }

    boost::asio::io_context io_;
    boost::asio::ssl::context tls_;
    boost::asio::ip::tcp::acceptor acceptor_;
    bool secure_ = false;
    bool close_after_each_ = false;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::atomic<int> open_{0};
    std::atomic<int> requests_{0};
    std::mutex mutex_;  ///< guards workers_, body_, authorization_
    std::list<std::thread> workers_;
    std::vector<int> fds_;
    boost::json::object body_;
    std::string authorization_;
    std::thread thread_;
};

}  // namespace lt::test
