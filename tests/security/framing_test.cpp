// Request smuggling and ambiguous framing (RFC 9112 §6.1/§6.3, §3.2, §5.2): each refused with one
// answer and a closed connection, so no body byte is ever read as a further request.
#include <chrono>
#include <string>

#include <doctest/doctest.h>

#include "security/raw_socket.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using namespace std::chrono_literals;
using lt::test::RawSocket;

namespace {

const std::string kSmuggled =
    "GET /actuator/health HTTP/1.1\r\nHost: localhost\r\nX-Correlation-Id: SMUGGLED\r\n\r\n";

struct Exchange {
    std::string bytes;
    bool closed = false;
};

Exchange send_raw(std::uint16_t port, const std::string& request) {
    RawSocket s(port);
    REQUIRE(s.ok());
    REQUIRE(s.send(request));
    Exchange e;
    e.bytes = s.read_all(3000ms, e.closed);
    return e;
}

/// One answer with `status`, nothing of the smuggled request, and the connection closed.
void expect_refused(std::uint16_t port, const std::string& request, int status) {
    auto e = send_raw(port, request);
    INFO("request: " << request);
    INFO("answer: " << e.bytes);
    CHECK(lt::test::first_status(e.bytes) == status);
    CHECK(lt::test::count_responses(e.bytes) == 1);
    CHECK(e.bytes.find("SMUGGLED") == std::string::npos);
    CHECK(e.closed);
}

void expect_normal_keep_alive(std::uint16_t port) {
    lt::test::TestConnection c(port);
    auto a = c.request("GET", "/actuator/health");
    auto b = c.request("GET", "/actuator/health");
    CHECK(a.status == 200);
    CHECK(b.status == 200);
    CHECK(b.keep_alive);
}

}  // namespace

TEST_CASE("A POST whose Transfer-Encoding is xchunked is refused with 400 and its body is never run as a request") {
    lt::test::TestApp app(lt::test::open_gateway());
    expect_refused(app.port(),
                   "POST /api/v1/tokens/status HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: xchunked\r\n\r\n" +
                       kSmuggled,
                   400);
    expect_normal_keep_alive(app.port());
}

TEST_CASE("Transfer-Encoding chunked then identity (final coding not chunked) is refused with 400 and closed") {
    lt::test::TestApp app(lt::test::open_gateway());
    expect_refused(app.port(),
                   "POST /api/v1/tokens/status HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, identity\r\n\r\n" +
                       kSmuggled,
                   400);
    expect_refused(app.port(),
                   "POST /api/v1/tokens/status HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                   "Transfer-Encoding: identity\r\n\r\n" +
                       kSmuggled,
                   400);
    expect_normal_keep_alive(app.port());
}

TEST_CASE("Transfer-Encoding together with Content-Length is refused with 400 and the connection closes") {
    lt::test::TestApp app(lt::test::open_gateway());
    std::string body = kSmuggled;
    expect_refused(app.port(),
                   "POST /api/v1/tokens/status HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: identity\r\n"
                   "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
                   400);
    expect_refused(app.port(),
                   "POST /api/v1/tokens/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + kSmuggled,
                   400);
    expect_normal_keep_alive(app.port());
}

TEST_CASE("A transfer coding the server does not implement before chunked is answered 501 and closed") {
    lt::test::TestApp app(lt::test::open_gateway());
    expect_refused(app.port(),
                   "POST /api/v1/tokens/status HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                   "0\r\n\r\n" + kSmuggled,
                   501);
    expect_normal_keep_alive(app.port());
}

TEST_CASE("An HTTP/1.1 request without Host or with two Host headers is refused with 400") {
    lt::test::TestApp app(lt::test::open_gateway());
    expect_refused(app.port(), "GET /actuator/health HTTP/1.1\r\n\r\n", 400);
    expect_refused(app.port(), "GET /actuator/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    // HTTP/1.0 has no Host requirement.
    auto e = send_raw(app.port(), "GET /actuator/health HTTP/1.0\r\n\r\n");
    CHECK(lt::test::first_status(e.bytes) == 200);
    expect_normal_keep_alive(app.port());
}

TEST_CASE("An obs-folded header line is refused with 400 and the connection closes") {
    lt::test::TestApp app(lt::test::open_gateway());
    expect_refused(app.port(),
                   "GET /actuator/health HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n" + kSmuggled, 400);
    expect_refused(app.port(),
                   "GET /actuator/health HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n\tb\r\n\r\n" + kSmuggled, 400);
    expect_normal_keep_alive(app.port());
}

TEST_CASE("A well-framed chunked request is still served and keeps its connection") {
    lt::test::TestApp app(lt::test::open_gateway());
    RawSocket s(app.port());
    REQUIRE(s.ok());
    REQUIRE(s.send("GET /actuator/health HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "0\r\n\r\n"
                   "GET /actuator/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
    bool closed = false;
    auto bytes = s.read_all(3000ms, closed);
    INFO(bytes);
    CHECK(lt::test::first_status(bytes) == 200);
    CHECK(lt::test::count_responses(bytes) == 2);
}
