#include "cli_port.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace lt::app {

namespace {

/// Inodes of sockets listening on `port` (/proc/net/tcp and tcp6, state 0A = LISTEN).
std::vector<std::string> listening_inodes(std::uint16_t port) {
    std::vector<std::string> out;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream row(line);
            std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
            row >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
            const auto colon = local.rfind(':');
            if (colon == std::string::npos || state != "0A") continue;
            if (std::stoul(local.substr(colon + 1), nullptr, 16) == port) out.push_back(inode);
        }
    }
    return out;
}

/// "pid 4242, leaky-tokens" for the process owning one of `inodes`, or "" (another user's process
/// is not readable without privileges).
std::string holder(const std::vector<std::string>& inodes) {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto& proc : fs::directory_iterator("/proc", ec)) {
        const auto pid = proc.path().filename().string();
        if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
        std::error_code fd_ec;
        for (const auto& fd : fs::directory_iterator(proc.path() / "fd", fd_ec)) {
            std::error_code link_ec;
            const auto target = fs::read_symlink(fd.path(), link_ec).string();
            if (link_ec || target.rfind("socket:[", 0) != 0) continue;
            const auto inode = target.substr(8, target.size() - 9);
            for (const auto& wanted : inodes) {
                if (inode != wanted) continue;
                std::string comm;
                std::ifstream(proc.path() / "comm") >> comm;
                return "pid " + pid + (comm.empty() ? "" : ", " + comm);
            }
        }
    }
    return {};
}

}  // namespace

std::optional<std::string> port_problem(const std::string& address, std::uint16_t port) {
    if (port == 0) return std::nullopt;
    const bool v6 = address.find(':') != std::string::npos;
    const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return std::nullopt;  // the server's own bind reports it
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = -1;
    if (v6) {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        if (::inet_pton(AF_INET6, address.c_str(), &a.sin6_addr) != 1) {
            ::close(fd);
            return std::nullopt;
        }
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1) {
            ::close(fd);
            return std::nullopt;
        }
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    const int err = errno;
    ::close(fd);
    if (rc == 0) return std::nullopt;
    const std::string where = "port " + std::to_string(port) + " on " + address;
    if (err == EADDRINUSE) {
        const auto who = holder(listening_inodes(port));
        return where + " is already in use" + (who.empty() ? "" : " (by " + who + ")") +
               "; stop that process or pick another port with --set server.port=N (0 = any free port)";
    }
    if (err == EACCES) return where + ": permission denied (ports below 1024 need privileges)";
    if (err == EADDRNOTAVAIL) return where + ": that address is not on this machine";
    return where + ": " + std::strerror(err);
}

}  // namespace lt::app
