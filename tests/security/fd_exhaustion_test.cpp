// File-descriptor exhaustion: with fewer descriptors than client connections the accept loop backs
// off (no CPU spin, a few log lines, a metric) and serves normal requests again once the flood ends;
// at start the server sizes server.max-connections against RLIMIT_NOFILE.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <doctest/doctest.h>

#include "security/raw_socket.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"

using namespace std::chrono_literals;
using lt::test::RawSocket;

namespace {

/// User + system CPU seconds the process has used so far (from /proc/<pid>/stat).
double cpu_seconds(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto close = all.rfind(')');
    REQUIRE(close != std::string::npos);
    std::istringstream rest(all.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15; ++i) {  // fields 14 and 15 are utime and stime in clock ticks
        rest >> field;
        if (i == 14) utime = std::stod(field);
        if (i == 15) stime = std::stod(field);
    }
    return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/// Status of one GET /actuator/health on a fresh connection, 0 when none arrived within `timeout`.
int health(std::uint16_t port, std::chrono::milliseconds timeout) {
    RawSocket s(port);
    if (!s.ok()) return 0;
    if (!s.send("GET /actuator/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")) return 0;
    bool closed = false;
    return lt::test::first_status(s.read_all(timeout, closed));
}

std::string scrape(std::uint16_t port) {
    RawSocket s(port);
    if (!s.ok() || !s.send("GET /actuator/prometheus HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")) {
        return {};
    }
    bool closed = false;
    return s.read_all(3000ms, closed);
}

std::string metric_lines(const std::string& text, const std::string& name) {
    std::string out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(name, 0) == 0) out += line + "\n";
    }
    return out;
}

/// The test process itself opens the flood: make sure it has the descriptors for it.
void raise_own_fd_limit(rlim_t want) {
    rlimit rl{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_cur < want) {
        rl.rlim_cur = std::min(want, rl.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

}  // namespace

TEST_CASE("With descriptors exhausted by a connection flood the server backs off, logs little and serves again") {
    constexpr int kFlood = 400;
    raise_own_fd_limit(kFlood + 200);
    lt::test::TempDir dir;
    lt::test::ServerProcess server(dir.path(), lt::test::free_port(), lt::test::ServerSpec{{}, {}, {}, "warn", "server.log", {}});
    // Lowered after start, as when the limit is below max-connections: the accept loop meets EMFILE.
    std::string cmd = "prlimit --pid " + std::to_string(server.pid()) + " --nofile=128:128";
    REQUIRE(std::system(cmd.c_str()) == 0);

    double cpu_before = cpu_seconds(server.pid());
    std::vector<RawSocket> flood;
    flood.reserve(kFlood);
    for (int i = 0; i < kFlood; ++i) flood.emplace_back(server.port());
    int connected = 0;
    for (auto& s : flood) connected += s.ok() ? 1 : 0;
    MESSAGE(connected << " flood connections open");
    std::this_thread::sleep_for(3s);  // the server at its limit with connections waiting
    double cpu_flood = cpu_seconds(server.pid()) - cpu_before;
    MESSAGE("server CPU during 3 s of flood: " << cpu_flood << " s");
    CHECK(cpu_flood < 0.5);  // it spun at 100 % of a core (and more) before the back-off

    flood.clear();  // the flood ends: sessions see EOF and free their descriptors
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (status != 200 && std::chrono::steady_clock::now() < deadline) status = health(server.port(), 3000ms);
    CHECK(status == 200);

    auto metrics = metric_lines(scrape(server.port()), "http_server_accept_errors_total");
    MESSAGE("accept errors:\n" << metrics);
    CHECK(metrics.find("reason=\"emfile\"") != std::string::npos);

    auto log_size = std::filesystem::file_size(dir.path() / "server.log");
    MESSAGE("server log: " << log_size << " bytes");
    CHECK(log_size < 16 * 1024);
    server.stop();
}

TEST_CASE("At start a max-connections above RLIMIT_NOFILE is lowered with one warning and the server serves") {
    lt::test::TempDir dir;
    lt::test::ServerProcess server(dir.path(), lt::test::free_port(),
                                   lt::test::ServerSpec{{"server.max-connections=10000"},
                                                        {},
                                                        {},
                                                        "warn",
                                                        "server.log",
                                                        {"/usr/bin/prlimit", "--nofile=256:256", "--"}});
    CHECK(health(server.port(), 3000ms) == 200);
    server.stop();
    std::ifstream f(dir.path() / "server.log");
    std::string log((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    INFO(log);
    CHECK(log.find("does not fit RLIMIT_NOFILE=256") != std::string::npos);
    CHECK(log.find("accepting at most 192 connections") != std::string::npos);
}
