// Slow clients: once a request's first byte arrived, the whole request (header and body) must arrive
// within server.read-timeout; server.idle-timeout only applies to the wait for that first byte.
#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "security/raw_socket.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using namespace std::chrono_literals;
using lt::test::RawSocket;

namespace {

/// Sends `head` then one byte of `trickle` every 50 ms; returns how long until the server closed
/// (or `limit` when it never did).
std::chrono::milliseconds trickle_until_closed(std::uint16_t port, const std::string& head,
                                               std::chrono::milliseconds limit) {
    RawSocket s(port);
    REQUIRE(s.ok());
    auto start = std::chrono::steady_clock::now();
    REQUIRE(s.send(head));
    while (std::chrono::steady_clock::now() - start < limit) {
        if (s.closed_within(50ms)) break;
        if (!s.send("X")) break;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

}  // namespace

TEST_CASE("A client trickling header bytes is cut off after read-timeout, not idle-timeout") {
    lt::test::TestApp app(lt::test::open_gateway({"server.read-timeout=300ms", "server.idle-timeout=60s"}));
    auto took = trickle_until_closed(app.port(), "GET /actuator/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ", 5000ms);
    MESSAGE("slow header closed after " << took.count() << " ms");
    CHECK(took >= 250ms);
    CHECK(took < 1500ms);
    CHECK(lt::test::http_call(app.port(), "GET", "/actuator/health").status == 200);
}

TEST_CASE("A client trickling body bytes is cut off within read-timeout of the request's first byte") {
    lt::test::TestApp app(lt::test::open_gateway({"server.read-timeout=300ms", "server.idle-timeout=60s"}));
    auto took = trickle_until_closed(
        app.port(), "POST /api/v1/tokens/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n", 5000ms);
    MESSAGE("slow body closed after " << took.count() << " ms");
    CHECK(took < 1500ms);
    CHECK(lt::test::http_call(app.port(), "GET", "/actuator/health").status == 200);
}

TEST_CASE("An idle keep-alive connection outlives read-timeout and serves a request sent later") {
    lt::test::TestApp app(lt::test::open_gateway({"server.read-timeout=300ms", "server.idle-timeout=60s"}));
    lt::test::TestConnection c(app.port());
    CHECK(c.request("GET", "/actuator/health").status == 200);
    std::this_thread::sleep_for(800ms);  // idle, no byte: idle-timeout applies
    CHECK(c.request("GET", "/actuator/health").status == 200);
    RawSocket fresh(app.port());
    REQUIRE(fresh.ok());
    std::this_thread::sleep_for(800ms);  // a new connection that has not sent its first byte yet
    REQUIRE(fresh.send("GET /actuator/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
    bool closed = false;
    auto bytes = fresh.read_all(3000ms, closed);
    CHECK(lt::test::first_status(bytes) == 200);
}
