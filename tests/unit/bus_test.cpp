#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "lt/bus/in_process_bus.hpp"

namespace asio = boost::asio;
using lt::bus::Message;

namespace {
asio::awaitable<lt::Result<lt::bus::Payload>> echo(Message m) {
    boost::json::object o;
    o["got"] = m.body.json();
    o["corr"] = m.ctx.correlation_id;
    co_return lt::bus::Payload(boost::json::value(o));
}

std::atomic<int> g_seen_a{0};
std::atomic<int> g_seen_b{0};
asio::awaitable<lt::Result<void>> count_a(Message m) {
    (void)m;
    ++g_seen_a;
    co_return lt::ok();
}
asio::awaitable<lt::Result<void>> count_b(Message m) {
    (void)m;
    ++g_seen_b;
    co_return lt::ok();
}
}  // namespace

TEST_CASE("a bus command reaches its handler with the context and returns the reply") {
    asio::io_context io;
    lt::bus::InProcessBus bus(io.get_executor(), lt::make_logger("test"), nullptr);
    bus.handle_named("echo.v1", echo);
    lt::bus::Context ctx;
    ctx.correlation_id = "c-1";
    auto fut = asio::co_spawn(io, bus.call_named("echo.v1", boost::json::value(42), ctx), asio::use_future);
    io.run();
    auto r = fut.get();
    REQUIRE(r);
    CHECK(r->json().as_object().at("got") == 42);
    CHECK(r->json().as_object().at("corr") == "c-1");
}

TEST_CASE("an unknown command is not found and an expired deadline times out") {
    asio::io_context io;
    lt::bus::InProcessBus bus(io.get_executor(), lt::make_logger("test"), nullptr);
    bus.handle_named("echo.v1", echo);
    lt::bus::Context expired;
    expired.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    auto f1 = asio::co_spawn(io, bus.call_named("nobody.v1", {}, {}), asio::use_future);
    auto f2 = asio::co_spawn(io, bus.call_named("echo.v1", {}, expired), asio::use_future);
    io.run();
    CHECK(f1.get().error().code == lt::Errc::not_found);
    CHECK(f2.get().error().code == lt::Errc::timeout);
}

TEST_CASE("each consumer group receives each event once") {
    asio::io_context io;
    lt::bus::InProcessBus bus(io.get_executor(), lt::make_logger("test"), nullptr);
    g_seen_a = 0;
    g_seen_b = 0;
    // Two handlers in group "a" share its events; group "b" gets all of them too.
    bus.subscribe_named("t.v1", "a", count_a);
    bus.subscribe_named("t.v1", "a", count_a);
    bus.subscribe_named("t.v1", "b", count_b);
    for (int i = 0; i < 100; ++i) REQUIRE(bus.publish_named("t.v1", boost::json::value(i), {}));
    io.run();
    CHECK(g_seen_a == 100);
    CHECK(g_seen_b == 100);
    CHECK(bus.pending_events() == 0);
}

TEST_CASE("a full event queue refuses the event instead of blocking") {
    asio::io_context io;
    lt::bus::InProcessBus bus(io.get_executor(), lt::make_logger("test"), nullptr, 3);
    g_seen_a = 0;
    bus.subscribe_named("t.v1", "a", count_a);
    int accepted = 0;
    for (int i = 0; i < 5; ++i) accepted += bus.publish_named("t.v1", boost::json::value(i), {}) ? 1 : 0;
    CHECK(accepted == 3);
    io.run();
    CHECK(g_seen_a == 3);
}

TEST_CASE("deliver completes only after every group handled the event") {
    asio::io_context io;
    lt::bus::InProcessBus bus(io.get_executor(), lt::make_logger("test"), nullptr);
    g_seen_a = 0;
    g_seen_b = 0;
    bus.subscribe_named("t.v1", "a", count_a);
    bus.subscribe_named("t.v1", "b", count_b);
    int seen_at_completion = -1;
    auto run = [&]() -> asio::awaitable<void> {
        auto op = bus.deliver_named("t.v1", boost::json::value(1), {});
        auto r = co_await std::move(op);
        CHECK(r);
        seen_at_completion = g_seen_a + g_seen_b;
    };
    asio::co_spawn(io, run(), asio::detached);
    io.run();
    CHECK(seen_at_completion == 2);
}
