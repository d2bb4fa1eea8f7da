#pragma once
/// Redis for tests: the shared server named by LT_TEST_REDIS_URL, throwaway redis-server processes that
/// a test starts, pauses, kills and restarts itself, and a small synchronous hiredis client to look at
/// what is stored. Header-only; link hiredis.

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "redis_url.hpp"
#include "support/temp_dir.hpp"

namespace lt::test {

/// LT_TEST_REDIS_URL, or nullopt when unset or empty.
inline std::optional<std::string> redis_url_from_env() {
    const char* url = std::getenv("LT_TEST_REDIS_URL");
    if (url == nullptr || *url == '\0') return std::nullopt;
    return std::string(url);
}

/// True when a redis-server binary is on the PATH.
inline bool redis_server_installed() { return std::system("command -v redis-server >/dev/null 2>&1") == 0; }

/// A loopback TCP port that was free a moment ago.
inline std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t size = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
    ::close(fd);
    return ntohs(addr.sin_port);
}

/// A synchronous connection for inspecting a server (not the code under test).
class RedisClient {
public:
    /// Connects to `url` (redis:// only), or returns null.
    static std::unique_ptr<RedisClient> connect(const std::string& url) {
        auto ep = adapters::redis::parse_redis_url(url);
        if (!ep || ep->tls) return nullptr;
        timeval timeout{2, 0};
        redisContext* c = redisConnectWithTimeout(ep->host.c_str(), ep->port, timeout);
        if (c == nullptr || c->err) {
            if (c) redisFree(c);
            return nullptr;
        }
        auto client = std::unique_ptr<RedisClient>(new RedisClient(c));
        if (!ep->password.empty()) {
            std::vector<std::string> auth{"AUTH"};
            if (!ep->user.empty()) auth.push_back(ep->user);
            auth.push_back(ep->password);
            client->command(auth);
        }
        if (ep->db != 0) client->command({"SELECT", std::to_string(ep->db)});
        return client;
    }
    ~RedisClient() { redisFree(context_); }
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    /// Runs one command; the reply as text: integers in decimal, nil as "(nil)", errors prefixed
    /// "ERR:", arrays as their elements joined by ' '.
    std::string command(const std::vector<std::string>& argv) {
        std::vector<const char*> pointers;
        std::vector<std::size_t> sizes;
        for (const auto& a : argv) {
            pointers.push_back(a.data());
            sizes.push_back(a.size());
        }
        auto* reply = static_cast<redisReply*>(
            redisCommandArgv(context_, static_cast<int>(argv.size()), pointers.data(), sizes.data()));
        if (reply == nullptr) return "ERR:no reply";
        std::string text = render(*reply);
        freeReplyObject(reply);
        return text;
    }

private:
    explicit RedisClient(redisContext* c) : context_(c) {}
    static std::string render(const redisReply& r) {
        switch (r.type) {
            case REDIS_REPLY_INTEGER: return std::to_string(r.integer);
            case REDIS_REPLY_NIL: return "(nil)";
            case REDIS_REPLY_ERROR: return "ERR:" + std::string(r.str, r.len);
            case REDIS_REPLY_ARRAY: {
                std::string out;
                for (std::size_t i = 0; i < r.elements; ++i) {
                    if (i) out += ' ';
                    out += render(*r.element[i]);
                }
                return out;
            }
            default: return std::string(r.str, r.len);
        }
    }
    redisContext* context_;
};

/// A redis-server child process on 127.0.0.1, no persistence, data in a temp dir. Killed with the
/// object.
class RedisServer {
public:
    /// Starts a server on `port` (0: a free one) with `extra` arguments; null when it does not answer
    /// within 10 s.
    static std::unique_ptr<RedisServer> start(std::uint16_t port = 0, std::vector<std::string> extra = {}) {
        auto server = std::unique_ptr<RedisServer>(new RedisServer(port == 0 ? free_port() : port, std::move(extra)));
        if (!server->launch()) return nullptr;
        return server;
    }
    ~RedisServer() { kill(); }
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    std::uint16_t port() const { return port_; }
    /// redis://127.0.0.1:port
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

    /// SIGKILL and wait: the port closes at once.
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGCONT);
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    /// Starts it again on the same port; false when it does not answer.
    bool restart() {
        kill();
        return launch();
    }
    /// SIGSTOP / SIGCONT: the server keeps its connections but stops answering.
    void pause() { ::kill(pid_, SIGSTOP); }
    void resume() { ::kill(pid_, SIGCONT); }

private:
    RedisServer(std::uint16_t port, std::vector<std::string> extra) : port_(port), extra_(std::move(extra)) {}

    bool launch() {
        std::vector<std::string> args{"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", dir_.path().string(),
                                      "--logfile", (dir_.path() / "redis.log").string()};
        args.insert(args.end(), extra_.begin(), extra_.end());
        const pid_t pid = ::fork();
        if (pid == 0) {
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execvp("redis-server", argv.data());
            ::_exit(127);
        }
        pid_ = pid;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return false;
            }
            timeval timeout{0, 200000};
            redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
            const bool up = c != nullptr && c->err == 0;
            if (c) redisFree(c);
            if (up) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }

    std::uint16_t port_;
    std::vector<std::string> extra_;
    TempDir dir_{"redis"};
    pid_t pid_ = -1;
};

/// A key prefix unique to this process and call, so tests sharing one server never see each other.
inline std::string unique_redis_prefix(std::string_view what) {
    static std::atomic<int> counter{0};
    return "lt-test:" + std::string(what) + ":" + std::to_string(::getpid()) + ":" + std::to_string(++counter) + ":";
}

}  // namespace lt::test
