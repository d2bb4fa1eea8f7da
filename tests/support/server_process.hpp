#pragma once
/// `leaky-tokens serve` in a child process, for end-to-end tests of the real executable: started on a
/// chosen port and data directory with `--set` overrides (and optionally `--modules` and extra
/// environment variables), waited for until /actuator/health answers, SIGTERM-ed on destruction.

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

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <doctest/doctest.h>

#include "support/test_http.hpp"

extern char** environ;

namespace lt::test {

/// A free TCP port on loopback (bound once and released, then handed to the server).
inline std::uint16_t free_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

struct ServerSpec {
    std::vector<std::string> sets;     ///< `--set` overrides
    std::string modules;               ///< `--modules` value; empty = all
    std::vector<std::string> env;      ///< extra environment entries "NAME=value"
    std::string log_level = "warn";
    std::string log_name = "server.log";  ///< file in the data directory taking stdout and stderr
    std::vector<std::string> launcher;    ///< run through this command prefix (e.g. prlimit ... --)
};

class ServerProcess {
public:
    ServerProcess(const std::filesystem::path& data_dir, std::uint16_t port, ServerSpec spec)
        : port_(port), dir_(data_dir), log_name_(spec.log_name) {
        std::vector<std::string> args = spec.launcher;
        args.push_back(std::string(LT_BINARY_DIR) + "/leaky-tokens");
        args.push_back("serve");
        if (!spec.modules.empty()) {
            args.push_back("--modules");
            args.push_back(spec.modules);
        }
        auto sets = spec.sets;
        sets.push_back("server.port=" + std::to_string(port));
        sets.push_back("server.address=127.0.0.1");
        sets.push_back("storage.data-dir=" + data_dir.string());
        sets.push_back("log.level=" + spec.log_level);
        sets.push_back("log.access=false");
        // The run's own settings (LT_TEST_EXTRA_SET: PostgreSQL, Redis, Kafka), isolated per data dir.
        for (auto& e : environment_overrides(data_dir)) sets.push_back(std::move(e));
        for (auto& s : sets) {
            args.push_back("--set");
            args.push_back(s);
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<std::string> env_store;
        for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
        for (auto& e : spec.env) env_store.push_back(e);
        std::vector<char*> envp;
        for (auto& e : env_store) envp.push_back(e.data());
        envp.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        std::filesystem::create_directories(data_dir);
        const std::string log = (data_dir / spec.log_name).string();
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        REQUIRE(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) == 0);
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

    /// On a free port, with `sets` and the default log level.
    ServerProcess(const std::filesystem::path& data_dir, std::vector<std::string> sets,
                  std::string log_name = "server.log")
        : ServerProcess(data_dir, free_port(), ServerSpec{std::move(sets), {}, {}, "warn", std::move(log_name)}) {}

    std::uint16_t port() const { return port_; }
    /// The child's process id (the server itself: a launcher must exec it).
    pid_t pid() const { return pid_; }
    const std::filesystem::path& dir() const { return dir_; }

    /// Waits for the process to end; returns the signal that killed it (0 when it exited).
    int wait_killed() {
        int status = 0;
        REQUIRE(::waitpid(pid_, &status, 0) == pid_);
        pid_ = -1;
        return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }

    /// SIGKILL and reap (a crash).
    void kill_hard() {
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
        for (int i = 0; i < 300; ++i) {
            try {
                if (http_call(port_, "GET", "/actuator/health").status == 200) return;
            } catch (const std::exception&) {
            }
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                FAIL("the server exited during start-up; see " << (dir_ / log_name_).string());
            }
            std::this_thread::sleep_for(50ms);
        }
        FAIL("the server did not become ready; see " << (dir_ / log_name_).string());
    }

    pid_t pid_ = -1;
    std::uint16_t port_;
    std::filesystem::path dir_;
    std::string log_name_;
};

}  // namespace lt::test
