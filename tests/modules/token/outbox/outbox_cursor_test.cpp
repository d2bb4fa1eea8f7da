// The outbox relay's cursor mode (token.outbox.delete-consumed, the embedded profile): no claim and no
// stamp; rows are deleted once every consumer group committed them; a restart re-sends only the rows
// the consumers had not all committed; a relay killed mid-batch loses nothing.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "outbox_harness.hpp"

using namespace lt;
using namespace lt::token;
using namespace lt::token::test;

namespace {

OutboxOptions cursor_options(std::size_t batch = 50) {
    auto o = test_options(batch);
    o.delete_consumed = true;
    o.consumer_grace = std::chrono::milliseconds(0);
    return o;
}

/// Polls everything group `group` has not yet received from the usage topic of `log`.
std::vector<ports::EventRecord> take(ports::EventLog& log, const std::string& group) {
    auto r = log.poll("token-usage", group, 1'000'000, std::chrono::milliseconds(0));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    return std::move(*r);
}

/// The eventIds of records (the envelope's eventId is the outbox row id).
std::set<std::string> ids_of(const std::vector<ports::EventRecord>& records) {
    std::set<std::string> out;
    for (const auto& r : records) {
        auto v = boost::json::parse(r.value);
        out.insert(std::string(v.as_object().at("eventId").as_string()));
    }
    return out;
}

}  // namespace

TEST_CASE("in cursor mode the relay publishes in seq order without stamping and deletes only rows every group committed") {
    OutboxHarness h;
    auto ids = h.insert_usage(120);
    auto relay = h.relay(cursor_options());
    REQUIRE(relay->cursor_mode());
    // Two consumer groups read the topic before anything is published.
    CHECK(take(h.log, "g1").empty());
    CHECK(take(h.log, "g2").empty());
    std::size_t total = 0;
    for (int i = 0; i < 4; ++i) {
        auto n = relay->publish_once();
        REQUIRE(n);
        total += *n;
    }
    CHECK(total == 120);
    CHECK(h.unpublished() == 120);  // never stamped
    CHECK(h.rows() == 120);         // nobody committed anything yet
    auto g1 = take(h.log, "g1");
    auto g2 = take(h.log, "g2");
    REQUIRE(g1.size() == 120);
    REQUIRE(g2.size() == 120);
    std::vector<std::string> order;
    for (const auto& r : g1) order.push_back(*ids_of({r}).begin());
    CHECK(order == ids);  // seq order
    REQUIRE(h.log.commit("g1", g1[69]));
    REQUIRE(h.log.commit("g2", g2[119]));
    REQUIRE(relay->publish_once());
    CHECK(h.rows() == 50);  // the 70 rows both groups have
    REQUIRE(h.log.commit("g1", g1[119]));
    REQUIRE(relay->publish_once());
    CHECK(h.rows() == 0);
    CHECK(relay->published() == 120);
    // New rows after the deletions are found by the cursor.
    h.insert_usage(3);
    auto n = relay->publish_once();
    REQUIRE(n);
    CHECK(*n == 3);
}

TEST_CASE("in cursor mode a restarted relay re-sends only the rows the consumers had not committed") {
    OutboxHarness h;
    auto ids = h.insert_usage(120);
    {
        auto relay = h.relay(cursor_options(200));
        REQUIRE(relay->cursor_mode());
        CHECK(take(h.log, "analytics").empty());
        REQUIRE(relay->publish_once());
        auto got = take(h.log, "analytics");
        REQUIRE(got.size() == 120);
        REQUIRE(h.log.commit("analytics", got[79]));
        REQUIRE(relay->publish_once());
        CHECK(h.rows() == 40);
    }
    // The process restarts: a fresh in-memory log, the same database.
    adapters::MemoryEventLog fresh(h.clock, 1, true);
    auto relay = h.relay(cursor_options(200), nullptr, &fresh);
    REQUIRE(relay->cursor_mode());
    auto n = relay->publish_once();
    REQUIRE(n);
    CHECK(*n == 40);
    auto resent = take(fresh, "analytics");
    CHECK(ids_of(resent) == std::set<std::string>(ids.begin() + 80, ids.end()));
}

TEST_CASE("in cursor mode a relay killed mid-batch loses nothing: the restarted relay re-sends what was not committed") {
    for (std::int64_t k : {0, 1, 49, 73}) {
        CAPTURE(k);
        OutboxHarness h;
        auto ids = h.insert_usage(120);
        FaultyEventLog log(h.log, true);
        FaultySqlDatabase db(*h.db, &log.crashed);
        log.arm(k, FaultyEventLog::Mode::crash);
        std::set<std::string> consumed;
        {
            auto doomed = h.relay(cursor_options(), &db, &log);
            REQUIRE(doomed->cursor_mode());
            CHECK(take(h.log, "analytics").empty());
            for (int i = 0; i < 5 && !log.crashed.load(); ++i) (void)doomed->publish_once();
            REQUIRE(log.crashed.load());
            // The consumer stores and commits everything that reached the log before the crash.
            auto got = take(h.log, "analytics");
            CHECK(got.size() == static_cast<std::size_t>(k) + 1);  // the crashing append reached the log
            if (!got.empty()) REQUIRE(h.log.commit("analytics", got.back()));
            consumed = ids_of(got);
        }
        adapters::MemoryEventLog fresh(h.clock, 1, true);
        auto relay = h.relay(cursor_options(), nullptr, &fresh);
        for (int i = 0; i < 5; ++i) REQUIRE(relay->publish_once());
        auto resent = ids_of(take(fresh, "analytics"));
        for (const auto& id : resent) consumed.insert(id);
        CHECK(consumed == std::set<std::string>(ids.begin(), ids.end()));  // nothing lost
        CHECK(resent.size() == 120);  // the dead relay deleted nothing: every row is still there, sent again
    }
}

TEST_CASE("cursor mode is not used over an event log that does not know its consumers") {
    OutboxHarness h;
    FaultyEventLog durable(h.log);  // reads as durable, and cannot tell its consumers
    auto relay = h.relay(cursor_options(), nullptr, &durable);
    CHECK_FALSE(relay->cursor_mode());
    auto over_memory = h.relay(cursor_options());
    CHECK(over_memory->cursor_mode());
    auto stamped = h.relay(test_options());
    CHECK_FALSE(stamped->cursor_mode());  // delete_consumed off
}
