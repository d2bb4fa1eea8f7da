#pragma once
/// The real `leaky-tokens serve` in a child process, for tests that need several processes, SIGKILL
/// and restarts on one data directory.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/env_overrides.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>

#include "support/test_http.hpp"

extern char** environ;

namespace lt::test {

/// A free TCP port on loopback (bound once and released, then handed to the server).
inline std::uint16_t free_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

/// `leaky-tokens serve --set ...` on `data_dir`, logging to `data_dir/<log_name>`; waits until
/// /actuator/health answers 200. SIGTERM and wait on destruction.
class ServerProcess {
public:
    ServerProcess(const std::filesystem::path& data_dir, std::vector<std::string> sets,
                  const std::string& log_name = "server.log")
        : port_(free_port()) {
        std::vector<std::string> args{std::string(LT_BINARY_DIR) + "/leaky-tokens", "serve"};
        sets.push_back("server.port=" + std::to_string(port_));
        sets.push_back("server.address=127.0.0.1");
        sets.push_back("storage.data-dir=" + data_dir.string());
        sets.push_back("log.access=false");
        for (auto& e : environment_overrides(data_dir)) sets.push_back(std::move(e));
        for (auto& s : sets) {
            args.push_back("--set");
            args.push_back(s);
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        const std::string log = (data_dir / log_name).string();
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        REQUIRE(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) == 0);
        posix_spawn_file_actions_destroy(&actions);
        wait_ready();
    }
    ~ServerProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    std::uint16_t port() const { return port_; }

    /// SIGKILL (no cleanup at all) and reap.
    void kill9() {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

    /// SIGTERM and wait for a clean exit.
    void stop() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        REQUIRE(::waitpid(pid_, &status, 0) == pid_);
        pid_ = -1;
        CHECK(WIFEXITED(status));
    }

private:
    void wait_ready() {
        using namespace std::chrono_literals;
        for (int i = 0; i < 400; ++i) {
            try {
                if (http_call(port_, "GET", "/actuator/health").status == 200) return;
            } catch (const std::exception&) {
            }
            std::this_thread::sleep_for(50ms);
        }
        FAIL("the server did not become ready");
    }

    pid_t pid_ = -1;
    std::uint16_t port_;
};

}  // namespace lt::test
