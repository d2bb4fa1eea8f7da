#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "lt/adapters/memory_event_log.hpp"
#include "lt/bus/in_process_bus.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/broadcast_bridge.hpp"
#include "lt/core/clock.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* kRevoked = "auth.api_key_revoked.v1";

struct Process;
asio::awaitable<lt::Result<void>> on_revoked(Process* p, lt::bus::Message m);

/// One "process": its own io_context thread, bus and bridge, over a log shared with the others.
struct Process {
    Process(lt::ports::EventLog& log, lt::BlockingPool& blocking, std::string id)
        : bus(io.get_executor(), lt::make_logger("bus-" + id, "warn"), nullptr),
          bridge(bus, log, blocking, io.get_executor(), {kRevoked}, id, lt::make_logger("bridge-" + id, "warn")) {
        bus.subscribe_named(kRevoked, "gateway", [this](lt::bus::Message m) { return on_revoked(this, std::move(m)); });
        bridge.register_handlers();
        thread = std::thread([this] { io.run(); });
        REQUIRE(bridge.start());
    }
    ~Process() {
        bridge.stop();
        work.reset();
        io.stop();
        thread.join();
    }
    lt::Result<void> deliver(std::string hash) {
        boost::json::object body{{"keyHash", std::move(hash)}};
        return asio::co_spawn(io, bus.deliver_named(kRevoked, boost::json::value(body), lt::bus::Context{}), asio::use_future).get();
    }

    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    lt::bus::InProcessBus bus;
    lt::BroadcastBridge bridge;
    std::atomic<int> received{0};
    std::mutex mutex;  ///< guards last_hash
    std::string last_hash;
    std::thread thread;
};

asio::awaitable<lt::Result<void>> on_revoked(Process* p, lt::bus::Message m) {
    if (auto* o = m.body.json().if_object(); o && o->contains("keyHash")) {
        std::lock_guard lock(p->mutex);
        p->last_hash = std::string(o->at("keyHash").as_string());
    }
    p->received.fetch_add(1);
    co_return lt::ok();
}

bool wait_for(const std::atomic<int>& n, int want, std::chrono::milliseconds patience) {
    const auto until = std::chrono::steady_clock::now() + patience;
    while (n.load() < want && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
    return n.load() >= want;
}

}  // namespace

TEST_CASE("a revocation delivered in one process reaches every other process within one second, once") {
    lt::SystemClock clock;
    lt::adapters::MemoryEventLog log(clock);
    lt::BlockingPool blocking(2);
    Process a(log, blocking, "a"), b(log, blocking, "b"), c(log, blocking, "c");

    REQUIRE(a.deliver("hash-1"));
    CHECK(a.received.load() == 1);  // the local subscriber, synchronously
    CHECK(wait_for(b.received, 1, 1000ms));
    CHECK(wait_for(c.received, 1, 1000ms));
    {
        std::lock_guard lock(b.mutex);
        CHECK(b.last_hash == "hash-1");
    }

    REQUIRE(c.deliver("hash-2"));
    CHECK(wait_for(a.received, 2, 1000ms));
    CHECK(wait_for(b.received, 2, 1000ms));
    // Nothing echoes back: received events are not sent out again.
    std::this_thread::sleep_for(300ms);
    CHECK(a.received.load() == 2);
    CHECK(b.received.load() == 2);
    CHECK(c.received.load() == 2);
}
