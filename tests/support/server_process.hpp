#pragma once
/// `leaky-tokens serve` in a child process, for end-to-end tests of the real executable: started on a
/// chosen port and data directory with `--set` overrides (and optionally `--modules` and extra
/// environment variables), waited for until /actuator/health answers, SIGTERM-ed on destruction.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
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
        : port_(port), dir_(data_dir), log_name_(spec.log_name), spec_(std::move(spec)) {
        std::filesystem::create_directories(data_dir);
        // A port found free can be taken by a parallel test before the server binds it: the server then
        // refuses to start ("already in use"), and another port is tried.
        for (int attempt = 0;; ++attempt) {
            spawn();
            if (wait_ready()) return;
            const bool port_taken = attempt < 5 && log_says_port_in_use();
            REQUIRE_MESSAGE(port_taken,
                            "the server exited during start-up; see " << (dir_ / log_name_).string());
            port_ = free_port();
        }
    }
    ~ServerProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            terminate_within(std::chrono::seconds(30));
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
        const int status = terminate_within(std::chrono::seconds(30));
        CHECK_MESSAGE(WIFEXITED(status), "the server did not exit cleanly on SIGTERM within 30 s; see "
                                             << (dir_ / log_name_).string());
    }

private:
    /// Reaps the child, SIGKILL-ing it when it has not ended within `limit` (a hung shutdown must not
    /// hang the test). Returns its wait status.
    int terminate_within(std::chrono::seconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() >= deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        pid_ = -1;
        return status;
    }

    void spawn() {
        std::vector<std::string> args = spec_.launcher;
        args.push_back(std::string(LT_BINARY_DIR) + "/leaky-tokens");
        args.push_back("serve");
        if (!spec_.modules.empty()) {
            args.push_back("--modules");
            args.push_back(spec_.modules);
        }
        auto sets = spec_.sets;
        sets.push_back("server.port=" + std::to_string(port_));
        sets.push_back("server.address=127.0.0.1");
        sets.push_back("storage.data-dir=" + dir_.string());
        sets.push_back("log.level=" + spec_.log_level);
        sets.push_back("log.access=false");
        // The run's own settings (LT_TEST_EXTRA_SET: PostgreSQL, Redis, Kafka), isolated per data dir.
        for (auto& e : environment_overrides(dir_)) sets.push_back(std::move(e));
        for (auto& s : sets) {
            args.push_back("--set");
            args.push_back(s);
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<std::string> env_store;
        for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
        for (auto& e : spec_.env) env_store.push_back(e);
        std::vector<char*> envp;
        for (auto& e : env_store) envp.push_back(e.data());
        envp.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        const std::string log = (dir_ / log_name_).string();
        log_offset_ = std::filesystem::exists(log) ? std::filesystem::file_size(log) : 0;
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        REQUIRE(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) == 0);
        posix_spawn_file_actions_destroy(&actions);
    }

    /// True when this start's part of the log says the port was taken.
    bool log_says_port_in_use() const {
        std::ifstream in(dir_ / log_name_);
        in.seekg(static_cast<std::streamoff>(log_offset_));
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        return text.find("already in use") != std::string::npos;
    }

    /// True when the socket listening on port_ belongs to the child (not to another test's server that
    /// took the port first): its inode in /proc/net/tcp is among the child's open descriptors.
    bool child_listens() const {
        char local[16];
        std::snprintf(local, sizeof local, ":%04X", static_cast<unsigned>(port_));
        std::vector<std::string> inodes;
        std::ifstream tcp("/proc/net/tcp");
        std::string line;
        std::getline(tcp, line);  // header
        while (std::getline(tcp, line)) {
            std::istringstream fields(line);
            std::string slot, local_address, remote, state, queues, timer, retransmits, uid, timeout, inode;
            fields >> slot >> local_address >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
            if (state == "0A" && local_address.ends_with(local)) inodes.push_back("socket:[" + inode + "]");
        }
        std::error_code ec;
        for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd", ec)) {
            auto target = std::filesystem::read_symlink(fd.path(), ec);
            if (!ec && std::find(inodes.begin(), inodes.end(), target.string()) != inodes.end()) return true;
        }
        return false;
    }

    /// Waits until the child answers /actuator/health on its own socket: true, or false when it exited.
    bool wait_ready() {
        using namespace std::chrono_literals;
        for (int i = 0; i < 300; ++i) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return false;
            }
            // Only the child's own socket is asked (another process may hold the port meanwhile).
            try {
                if (child_listens() && http_call(port_, "GET", "/actuator/health").status == 200) return true;
            } catch (const std::exception&) {
            }
            std::this_thread::sleep_for(50ms);
        }
        FAIL("the server did not become ready; see " << (dir_ / log_name_).string());
        return false;
    }

    pid_t pid_ = -1;
    std::uint16_t port_;
    std::filesystem::path dir_;
    std::string log_name_;
    ServerSpec spec_;
    std::uintmax_t log_offset_ = 0;
};

}  // namespace lt::test
