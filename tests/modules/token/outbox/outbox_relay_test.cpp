#include "outbox_harness.hpp"
#include <set>

using namespace lt;
using namespace lt::token;
using namespace lt::token::test;
using namespace std::chrono_literals;

TEST_CASE("the outbox relay publishes rows in seq order with their payload unchanged and stamps them") {
    OutboxHarness h;
    auto ids = h.insert_usage(10);
    auto relay = h.relay(test_options());
    auto published = relay->publish_once();
    REQUIRE(published);
    CHECK(*published == 10);

    auto records = h.read("token-usage");
    REQUIRE(records.size() == 10);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        CHECK(records[i].key == ids[i]);
        const NewRow row{"TokenUsage", std::nullopt, static_cast<std::int64_t>(i), 1};
        CHECK(records[i].value == envelope(ids[i], row));
        CHECK(h.published_at(ids[i]) == format_rfc3339(h.clock.now()));
    }
    CHECK(h.unpublished() == 0);
    CHECK(h.rows() == 10);  // stamped, not deleted
    // Nothing left: the next pass sends nothing.
    auto again = relay->publish_once();
    REQUIRE(again);
    CHECK(*again == 0);
    CHECK(h.read("token-usage").size() == 10);
}

TEST_CASE("usage rows go to the usage topic and every other aggregate type to the purchase topic") {
    OutboxHarness h;
    auto ids = h.insert({NewRow{"TokenUsage", std::nullopt, 0, 1}, NewRow{"TokenPurchaseSaga", "saga-1", 1, 1},
                         NewRow{"TokenPurchaseSagaCompensation", "saga-1", 2, 1},
                         NewRow{"TokenUsage", std::nullopt, 3, 1}, NewRow{"TokenPurchaseSagaRecovery", "saga-2", 4, 1}});
    auto options = test_options();
    options.usage_topic = "usage-x";
    options.purchase_topic = "purchases-x";
    auto relay = h.relay(options);
    REQUIRE(relay->publish_once());

    auto usage = h.read("usage-x");
    REQUIRE(usage.size() == 2);
    CHECK(event_id_of(usage[0].value) == ids[0]);
    CHECK(event_id_of(usage[1].value) == ids[3]);
    auto purchases = h.read("purchases-x");
    REQUIRE(purchases.size() == 3);
    CHECK(event_id_of(purchases[0].value) == ids[1]);
    CHECK(event_id_of(purchases[1].value) == ids[2]);
    CHECK(event_id_of(purchases[2].value) == ids[4]);
    CHECK(h.read("token-usage").empty());
}

TEST_CASE("the message key is the aggregate id when set, else the row id, and one key's events stay in order") {
    OutboxHarness h(8);  // topics created by append get 8 partitions
    std::vector<NewRow> rows;
    for (std::int64_t i = 0; i < 60; ++i) {
        const auto saga = "saga-" + std::to_string(i % 5);
        rows.push_back(NewRow{"TokenPurchaseSaga", saga, i / 5, 1});  // n = step of that saga
        rows.push_back(NewRow{"TokenUsage", std::nullopt, i, 1});
    }
    auto ids = h.insert(rows);
    auto relay = h.relay(test_options(500));
    auto published = relay->publish_once();
    REQUIRE(published);
    CHECK(*published == rows.size());

    std::map<std::string, std::string> id_to_key;
    for (const auto& r : h.read("token-usage")) id_to_key[event_id_of(r.value)] = r.key;
    std::map<std::string, std::vector<std::int64_t>> steps_by_saga;
    std::map<std::string, int> partition_of_saga;
    for (const auto& r : h.read("token-purchase-events")) {
        id_to_key[event_id_of(r.value)] = r.key;
        steps_by_saga[r.key].push_back(boost::json::parse(r.value).at("payload").at("n").as_int64());
        auto [it, inserted] = partition_of_saga.emplace(r.key, r.partition);
        CHECK(it->second == r.partition);  // one saga, one partition
    }
    REQUIRE(id_to_key.size() == rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        CHECK(id_to_key[ids[i]] == (rows[i].aggregate_id ? *rows[i].aggregate_id : ids[i]));
    }
    REQUIRE(steps_by_saga.size() == 5);
    for (const auto& [saga, steps] : steps_by_saga) {
        REQUIRE(steps.size() == 12);
        for (std::size_t i = 0; i < steps.size(); ++i) CHECK(steps[i] == static_cast<std::int64_t>(i));
    }
}

TEST_CASE("a pass publishes at most batch-size rows and the rest waits for the next passes") {
    OutboxHarness h;
    auto ids = h.insert_usage(120);
    auto relay = h.relay(test_options(50));
    std::vector<std::size_t> passes;
    for (int i = 0; i < 4; ++i) {
        auto published = relay->publish_once();
        REQUIRE(published);
        passes.push_back(*published);
        CHECK(h.read("token-usage").size() == std::min<std::size_t>(120, 50 * (i + 1)));
    }
    CHECK(passes == std::vector<std::size_t>{50, 50, 20, 0});
    CHECK(h.published_at(ids[49]).has_value());
    auto records = h.read("token-usage");
    REQUIRE(records.size() == 120);
    for (std::size_t i = 0; i < ids.size(); ++i) CHECK(event_id_of(records[i].value) == ids[i]);
}

TEST_CASE("an append failure stops the batch, later rows wait, and everything is published after recovery") {
    OutboxHarness h;
    FaultyEventLog faulty(h.log);
    auto ids = h.insert_usage(10);
    auto relay = h.relay(test_options(), nullptr, &faulty);

    faulty.arm(3, FaultyEventLog::Mode::fail);
    auto first = relay->publish_once();
    CHECK_FALSE(first);
    CHECK(faulty.attempts.load() == 4);  // the batch stopped at the failing append
    CHECK(h.read("token-usage").size() == 3);
    for (std::size_t i = 0; i < 3; ++i) CHECK(h.published_at(ids[i]).has_value());
    for (std::size_t i = 3; i < 10; ++i) CHECK_FALSE(h.published_at(ids[i]).has_value());
    CHECK(relay->published() == 3);
    CHECK(relay->failures() == 1);
    CHECK(relay->consecutive_failures() == 1);
    CHECK(h.counter("token_outbox_publish_failures_total") == 1);
    CHECK(relay->backlog() == 7);

    // Still down: nothing moves, nothing is stamped.
    CHECK_FALSE(relay->publish_once());
    CHECK(relay->consecutive_failures() == 2);
    CHECK(h.unpublished() == 7);

    faulty.heal();
    auto recovered = relay->publish_once();
    REQUIRE(recovered);
    CHECK(*recovered == 7);
    CHECK(relay->consecutive_failures() == 0);
    CHECK(relay->failures() == 2);
    auto records = h.read("token-usage");
    REQUIRE(records.size() == 10);  // nothing sent twice: failed appends stored nothing
    for (std::size_t i = 0; i < ids.size(); ++i) CHECK(event_id_of(records[i].value) == ids[i]);
    CHECK(h.unpublished() == 0);
    CHECK(relay->backlog() == 0);
}

TEST_CASE("a failure to stamp sent rows re-sends them later (at-least-once) and counts a failure") {
    OutboxHarness h;
    FaultySqlDatabase db(*h.db);
    h.insert_usage(5);
    db.healthy_calls = 1;  // the select works, the stamp fails
    auto relay = h.relay(test_options(), &db);
    CHECK_FALSE(relay->publish_once());
    CHECK(h.read("token-usage").size() == 5);
    CHECK(h.unpublished() == 5);
    CHECK(relay->published() == 0);
    CHECK(h.counter("token_outbox_publish_failures_total") == 1);

    db.healthy_calls = -1;
    auto again = relay->publish_once();
    REQUIRE(again);
    CHECK(*again == 5);
    CHECK(h.read("token-usage").size() == 10);  // each row twice: consumers dedupe by eventId
    CHECK(h.unpublished() == 0);
    CHECK(relay->consecutive_failures() == 0);
}

TEST_CASE("a database failure before anything was sent fails the pass and sends nothing") {
    OutboxHarness h;
    FaultySqlDatabase db(*h.db);
    h.insert_usage(3);
    db.down = true;
    auto relay = h.relay(test_options(), &db);
    CHECK_FALSE(relay->publish_once());
    CHECK(h.read("token-usage").empty());
    db.down = false;
    auto published = relay->publish_once();
    REQUIRE(published);
    CHECK(*published == 3);
}

TEST_CASE("wake() gets a new row published promptly although the poll interval is an hour") {
    OutboxHarness h;
    auto relay = h.relay(test_options());
    relay->start();
    REQUIRE(eventually([&] { return relay->passes() >= 1; }));  // the first pass at start found nothing
    auto ids = h.insert_usage(1);
    relay->wake();
    CHECK(eventually([&] { return h.read("token-usage").size() == 1; }));
    CHECK(eventually([&] { return h.published_at(ids[0]).has_value(); }));
    // Many wakes while it works: each row is still sent once.
    for (int i = 0; i < 100; ++i) {
        h.insert_usage(1);
        relay->wake();
    }
    CHECK(eventually([&] { return relay->published() == 101; }));
    relay->stop();
    CHECK(h.read("token-usage").size() == 101);
}

TEST_CASE("stop() publishes what was committed before it, and start() after stop() does nothing") {
    OutboxHarness h;
    auto relay = h.relay(test_options(10));
    relay->start();
    REQUIRE(eventually([&] { return relay->passes() >= 1; }));
    h.insert_usage(35);  // no wake(): only the flush at stop publishes them
    relay->stop();
    CHECK(h.unpublished() == 0);
    CHECK(h.read("token-usage").size() == 35);
    relay->start();
    h.insert_usage(1);
    relay->wake();
    CHECK(relay->publish_once());  // direct passes still work
    relay->stop();
}

TEST_CASE("a disabled relay starts no thread") {
    OutboxHarness h;
    auto options = test_options();
    options.enabled = false;
    auto relay = h.relay(options);
    h.insert_usage(3);
    relay->start();
    relay->wake();
    relay->stop();
    CHECK(relay->passes() == 0);
    CHECK(h.unpublished() == 3);
}

TEST_CASE("purge deletes only published rows older than the retention") {
    OutboxHarness h;
    auto options = test_options(2);
    options.retention = 1h;
    auto relay = h.relay(options);
    auto old_ids = h.insert_usage(2);
    REQUIRE(relay->publish_once());  // published at t0
    h.clock.advance(2h);
    auto recent_ids = h.insert_usage(1);
    REQUIRE(relay->publish_once());  // published at t0 + 2h
    h.insert_usage(1);  // never published

    auto purged = relay->purge_once();
    REQUIRE(purged);
    CHECK(*purged == 2);
    CHECK(h.published_at(recent_ids[0]).has_value());
    CHECK(h.published_at(old_ids[0]) == std::nullopt);  // gone
    CHECK(h.rows() == 2);
    CHECK(h.counter("token_outbox_purged_total") == 2);

    // Much later: the recent row expires too; the unpublished one is never purged, however old.
    h.clock.advance(5h);
    purged = relay->purge_once();
    REQUIRE(purged);
    CHECK(*purged == 1);
    CHECK(h.rows() == 1);
    CHECK(h.unpublished() == 1);
    CHECK(h.counter("token_outbox_purged_total") == 3);
    purged = relay->purge_once();
    REQUIRE(purged);
    CHECK(*purged == 0);
}

TEST_CASE("purge removes a large backlog of published rows in several chunks") {
    OutboxHarness h;
    auto options = test_options(5000);
    options.retention = 0ms;
    auto relay = h.relay(options);
    h.insert_usage(4500);
    REQUIRE(relay->publish_once());
    h.clock.advance(1ms);
    auto purged = relay->purge_once();
    REQUIRE(purged);
    CHECK(*purged == 4500);
    CHECK(h.rows() == 0);
}

TEST_CASE("outbox metrics: published by topic, failures, backlog") {
    OutboxHarness h;
    FaultyEventLog faulty(h.log);
    h.insert({NewRow{"TokenUsage"}, NewRow{"TokenPurchaseSaga", "s"}, NewRow{"TokenUsage"}});
    h.insert_usage(120);
    auto relay = h.relay(test_options(50), nullptr, &faulty);
    CHECK(h.gauge("token_outbox_backlog") == 0);  // nothing measured yet

    REQUIRE(relay->publish_once());
    CHECK(h.gauge("token_outbox_backlog") == 73);
    CHECK(h.counter("token_outbox_published_total", {"token-usage"}) == 49);
    CHECK(h.counter("token_outbox_published_total", {"token-purchase-events"}) == 1);

    faulty.arm(10, FaultyEventLog::Mode::fail);
    CHECK_FALSE(relay->publish_once());
    CHECK(h.counter("token_outbox_publish_failures_total") == 1);
    CHECK(h.gauge("token_outbox_backlog") == 63);
    CHECK(h.counter("token_outbox_published_total", {"token-usage"}) == 59);

    faulty.heal();
    REQUIRE(relay->publish_once());
    REQUIRE(relay->publish_once());
    CHECK(h.gauge("token_outbox_backlog") == 0);
    CHECK(h.counter("token_outbox_published_total", {"token-usage"}) == 122);
    CHECK(h.counter("token_outbox_published_total", {"token-purchase-events"}) == 1);
    CHECK(h.counter("token_outbox_publish_failures_total") == 1);
    CHECK(relay->published() == 123);
}

namespace {
/// The harness' in-memory log presented as a durable one (as Kafka is).
class DurableView final : public lt::ports::EventLog {
public:
    explicit DurableView(lt::ports::EventLog& inner) : inner_(inner) {}
    lt::Result<void> create_topic(std::string_view t, int p) override { return inner_.create_topic(t, p); }
    lt::Result<lt::ports::EventRecord> append(std::string_view t, std::string_view k, std::string v) override {
        return inner_.append(t, k, std::move(v));
    }
    lt::Result<std::vector<lt::ports::EventRecord>> poll(std::string_view t, std::string_view g, std::size_t m,
                                                         std::chrono::milliseconds w) override {
        return inner_.poll(t, g, m, w);
    }
    lt::Result<void> commit(std::string_view g, const lt::ports::EventRecord& r) override { return inner_.commit(g, r); }
    lt::Result<void> seek(std::string_view g, const lt::ports::EventRecord& r) override { return inner_.seek(g, r); }
    lt::Result<std::int64_t> committed(std::string_view t, std::string_view g, int p) override {
        return inner_.committed(t, g, p);
    }
    bool durable() const override { return true; }

private:
    lt::ports::EventLog& inner_;
};
}  // namespace

TEST_CASE("a relay started over a non-durable event log sends the kept rows again, over a durable one it does not") {
    OutboxHarness h;
    auto ids = h.insert_usage(30);
    {
        auto before = h.relay(test_options());
        auto sent = before->publish_once();
        REQUIRE(sent);
        REQUIRE(*sent == 30);
    }
    {
        // Restart over a durable log: what was published is still there, nothing is re-sent.
        DurableView durable(h.log);
        auto relay = h.relay(test_options(), nullptr, &durable);
        relay->start();
        REQUIRE(eventually([&] { return relay->passes() >= 1; }));
        relay->stop();
        CHECK(relay->published() == 0);
        CHECK(h.read("token-usage").size() == 30);
    }
    // Restart over the in-memory log (whose records died with the process): every kept row is sent
    // again, once; a consumer deduplicating by eventId still counts 30.
    auto relay = h.relay(test_options());
    relay->start();
    CHECK(eventually([&] { return relay->published() == 30; }));
    relay->stop();
    auto records = h.read("token-usage");
    CHECK(records.size() == 60);
    std::set<std::string> distinct;
    for (const auto& r : records) distinct.insert(event_id_of(r.value));
    CHECK(distinct == std::set<std::string>(ids.begin(), ids.end()));
    for (const auto& id : ids) CHECK(h.published_at(id).has_value());
}

TEST_CASE("with a linger, the rows of many commits woken one by one travel in few passes") {
    OutboxHarness h;
    auto options = test_options(500);
    options.linger = std::chrono::milliseconds(200);
    auto relay = h.relay(options);
    relay->start();
    REQUIRE(eventually([&] { return relay->passes() >= 1; }));
    const auto passes_before = relay->passes();
    for (int i = 0; i < 40; ++i) {
        h.insert_usage(1);
        relay->wake();
    }
    CHECK(eventually([&] { return relay->published() == 40; }));
    relay->stop();
    // 40 wake-ups inside one linger: a handful of passes, not one per commit.
    CHECK(relay->passes() - passes_before < 10);
    CHECK(h.read("token-usage").size() == 40);
}
