// server.max-connections-per-ip (issue 15 item 3): one client address cannot take every connection
// slot. Over the cap a new connection is closed at once and counted; other addresses and the same
// address after one of its connections closed are served.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>

#include "security/raw_socket.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using namespace std::chrono_literals;
using lt::test::RawSocket;

namespace {
/// GET /actuator/health from source address `from` (any 127/8 address works on loopback); the status
/// or 0 when the connection was closed without an answer.
int get_from(const std::string& from, std::uint16_t port) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.open(boost::asio::ip::tcp::v4());
    s.bind({boost::asio::ip::make_address(from), 0});
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    std::string req = "GET /actuator/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    boost::system::error_code ec;
    boost::asio::write(s, boost::asio::buffer(req), ec);
    std::string out;
    char buf[1024];
    for (;;) {
        auto n = s.read_some(boost::asio::buffer(buf), ec);
        if (ec) break;
        out.append(buf, n);
    }
    return lt::test::first_status(out);
}
}  // namespace

TEST_CASE("Connections over server.max-connections-per-ip are closed at once and counted") {
    lt::test::TestApp app(lt::test::open_gateway({"server.max-connections-per-ip=5"}));
    std::vector<std::unique_ptr<RawSocket>> held;
    for (int i = 0; i < 5; ++i) {
        held.push_back(std::make_unique<RawSocket>(app.port()));
        REQUIRE(held.back()->ok());
    }
    std::this_thread::sleep_for(300ms);  // all five accepted
    RawSocket extra(app.port());
    REQUIRE(extra.ok());  // the kernel completed the handshake; the server closes it
    CHECK(extra.closed_within(2000ms));
    CHECK(get_from("127.0.0.1", app.port()) == 0);
    // Another client address is not affected.
    CHECK(get_from("127.0.0.2", app.port()) == 200);
    // The metric, read from another address.
    {
        boost::asio::io_context io;
        boost::asio::ip::tcp::socket s(io);
        s.open(boost::asio::ip::tcp::v4());
        s.bind({boost::asio::ip::make_address("127.0.0.3"), 0});
        s.connect({boost::asio::ip::make_address("127.0.0.1"), app.port()});
        std::string req = "GET /actuator/prometheus HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        boost::asio::write(s, boost::asio::buffer(req));
        std::string out;
        boost::system::error_code ec;
        boost::asio::read(s, boost::asio::dynamic_buffer(out), ec);
        CHECK(out.find("http_server_accept_errors_total{reason=\"max_connections_per_ip\"} 2") != std::string::npos);
    }
    // One held connection closes: the address may connect again.
    held.pop_back();
    std::this_thread::sleep_for(300ms);
    CHECK(get_from("127.0.0.1", app.port()) == 200);
}

TEST_CASE("server.max-connections-per-ip=0 sets no cap") {
    lt::test::TestApp app(lt::test::open_gateway({"server.max-connections-per-ip=0"}));
    std::vector<std::unique_ptr<RawSocket>> held;
    for (int i = 0; i < 40; ++i) held.push_back(std::make_unique<RawSocket>(app.port()));
    std::this_thread::sleep_for(200ms);
    CHECK(lt::test::http_call(app.port(), "GET", "/actuator/health").status == 200);
}
