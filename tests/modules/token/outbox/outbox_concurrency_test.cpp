#include "outbox_harness.hpp"

using namespace lt;
using namespace lt::token;
using namespace lt::token::test;
using namespace std::chrono_literals;

TEST_CASE("rows committed by concurrent threads while the relay runs are each published exactly once") {
    OutboxHarness h(4);
    // An hour between idle passes: only wake() gets the rows out, so a lost wake-up hangs the test.
    auto relay = h.relay(test_options(50));
    relay->start();

    constexpr int kThreads = 4;
    std::atomic<bool> inserting{true};
    // Direct passes racing the relay thread must not send anything twice either.
    std::thread direct([&] {
        while (inserting.load()) {
            CHECK(relay->publish_once());
            std::this_thread::yield();
        }
    });
    const auto total = insert_mixed_concurrently(h, kThreads, 200, 7, [&](int) { relay->wake(); });
    inserting = false;
    direct.join();

    REQUIRE(eventually([&] { return static_cast<std::int64_t>(relay->published()) == total; }, 120s));
    relay->stop();
    CHECK(h.unpublished() == 0);
    CHECK(relay->failures() == 0);
    CHECK(relay->backlog() == 0);
    CHECK(h.gauge("token_outbox_backlog") == 0);

    auto records = h.read("token-usage");
    auto purchases = h.read("token-purchase-events");
    CHECK(static_cast<std::int64_t>(records.size() + purchases.size()) == total);
    std::set<std::string> ids;
    for (const auto& r : records) ids.insert(event_id_of(r.value));
    std::map<std::string, std::int64_t> next_step;
    for (const auto& r : purchases) {
        ids.insert(event_id_of(r.value));
        CHECK(boost::json::parse(r.value).at("payload").at("n").as_int64() == next_step[r.key]++);
    }
    CHECK(static_cast<std::int64_t>(ids.size()) == total);  // exactly once: no duplicates, no losses
    CHECK(next_step.size() == kThreads);
    CHECK(h.counter("token_outbox_published_total", {"token-usage"}) == static_cast<double>(records.size()));
    CHECK(h.counter("token_outbox_published_total", {"token-purchase-events"}) ==
          static_cast<double>(purchases.size()));
}

TEST_CASE("the relay thread backs off while publishing fails and resets the backoff on success") {
    OutboxHarness h;
    FaultyEventLog log(h.log);
    FaultySqlDatabase db(*h.db);
    h.insert_usage(5);
    auto relay = h.relay(test_options(), &db, &log);  // backoff 1 ms doubling up to 8 ms

    log.arm(0, FaultyEventLog::Mode::fail);
    relay->start();
    REQUIRE(eventually([&] { return relay->current_backoff() == 8ms && relay->consecutive_failures() >= 5; }));
    CHECK(relay->published() == 0);
    CHECK(h.counter("token_outbox_publish_failures_total") >= 5);
    log.heal();
    REQUIRE(eventually([&] { return relay->published() == 5 && relay->current_backoff() == 0ms; }));
    CHECK(relay->consecutive_failures() == 0);

    // The database failing backs off the same way.
    db.down = true;
    const auto failures_before = relay->failures();
    relay->wake();
    REQUIRE(eventually([&] { return relay->current_backoff() == 8ms && relay->failures() >= failures_before + 4; }));
    db.down = false;
    h.insert_usage(2);
    relay->wake();  // ignored while backing off; the next timed pass succeeds
    REQUIRE(eventually([&] { return relay->published() == 7 && relay->current_backoff() == 0ms; }));
    relay->stop();
    CHECK(h.read("token-usage").size() == 7);
}
