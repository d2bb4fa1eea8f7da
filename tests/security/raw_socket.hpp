#pragma once
/// Blocking loopback sockets with deadlines, for abuse tests that send bytes no HTTP library would.

#include <chrono>
#include <cstdint>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace lt::test {

/// One TCP connection to 127.0.0.1:port (fd -1 when the connect failed). Closed on destruction.
class RawSocket {
public:
    explicit RawSocket(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) return;
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close();
    }
    ~RawSocket() { close(); }
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;
    RawSocket(RawSocket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }

    bool ok() const { return fd_ >= 0; }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    /// False when the peer closed (EPIPE/ECONNRESET) or the socket is not open.
    bool send(const std::string& bytes) {
        std::size_t off = 0;
        while (off < bytes.size()) {
            auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }
    /// Reads until the peer closes or `timeout` passes; `closed` tells which.
    std::string read_all(std::chrono::milliseconds timeout, bool& closed) {
        std::string out;
        closed = false;
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return out;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
            char buf[4096];
            auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed = true;
                return out;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
    }
    /// True when the peer closed (EOF or reset) within `timeout`, discarding what it sent.
    bool closed_within(std::chrono::milliseconds timeout) {
        bool closed = false;
        read_all(timeout, closed);
        return closed;
    }

private:
    int fd_ = -1;
};

/// Number of HTTP responses in `bytes` (the server puts an X-Correlation-Id header on every one).
inline int count_responses(const std::string& bytes) {
    int n = 0;
    for (std::size_t pos = 0; (pos = bytes.find("\r\nX-Correlation-Id: ", pos)) != std::string::npos; ++pos) ++n;
    return n;
}

/// The status code of the first response in `bytes`, 0 when there is none.
inline int first_status(const std::string& bytes) {
    if (bytes.size() < 12 || bytes.compare(0, 7, "HTTP/1.") != 0) return 0;
    return std::atoi(bytes.substr(9, 3).c_str());
}

}  // namespace lt::test
