// The outbox relay's PostgreSQL pass (locked mode) on a real PostgreSQL server (LT_TEST_POSTGRES_URL):
// several relays over one database, as several processes run them.

#include "outbox_harness.hpp"
#include "support/postgres_schema.hpp"

#include <condition_variable>
#include <mutex>

#include "lt/adapters/postgres_database.hpp"

using namespace lt;
using namespace lt::token;
using namespace lt::token::test;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<ports::SqlDatabase> open_pg(const lt::test::PostgresSchema& schema, std::size_t pool = 4,
                                            const std::string& extra = {}) {
    auto db = adapters::PostgresDatabase::open(schema.url(extra), pool);
    REQUIRE_MESSAGE(db, (db ? "" : db.error().message));
    return std::move(*db);
}

/// Checks what reached the log: every id once, and each saga's steps in order.
void check_exactly_once(OutboxHarness& h, std::int64_t total, std::size_t sagas) {
    auto usage = h.read("token-usage");
    auto purchases = h.read("token-purchase-events");
    std::set<std::string> ids;
    for (const auto& r : usage) ids.insert(event_id_of(r.value));
    std::map<std::string, std::int64_t> next_step;
    for (const auto& r : purchases) {
        ids.insert(event_id_of(r.value));
        CHECK(boost::json::parse(r.value).at("payload").at("n").as_int64() == next_step[r.key]++);
    }
    CHECK(static_cast<std::int64_t>(usage.size() + purchases.size()) == total);
    CHECK(static_cast<std::int64_t>(ids.size()) == total);
    CHECK(next_step.size() == sagas);
}

/// An event log whose appends wait while `hold` is set (the relay then sits inside its transaction,
/// its rows locked); `entered` counts appends that reached the wait.
class HoldingEventLog final : public ports::EventLog {
public:
    explicit HoldingEventLog(ports::EventLog& inner) : inner_(inner) {}
    Result<void> create_topic(std::string_view t, int p) override { return inner_.create_topic(t, p); }
    Result<ports::EventRecord> append(std::string_view topic, std::string_view key, std::string value) override {
        {
            std::unique_lock lock(mutex_);
            ++entered;
            cv_.notify_all();
            cv_.wait_for(lock, 30s, [&] { return !hold; });
        }
        return inner_.append(topic, key, std::move(value));
    }
    Result<std::vector<ports::EventRecord>> poll(std::string_view t, std::string_view g, std::size_t m,
                                                 std::chrono::milliseconds w) override {
        return inner_.poll(t, g, m, w);
    }
    Result<void> commit(std::string_view g, const ports::EventRecord& r) override { return inner_.commit(g, r); }
    Result<void> seek(std::string_view g, const ports::EventRecord& r) override { return inner_.seek(g, r); }
    Result<std::int64_t> committed(std::string_view t, std::string_view g, int p) override {
        return inner_.committed(t, g, p);
    }
    void release() {
        std::lock_guard lock(mutex_);
        hold = false;
        cv_.notify_all();
    }
    bool wait_entered(int n) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, 30s, [&] { return entered >= n; });
    }

    bool hold = true;
    int entered = 0;

private:
    ports::EventLog& inner_;
    std::mutex mutex_;
    std::condition_variable cv_;
};

}  // namespace

TEST_CASE("on PostgreSQL three relays publish every row once, keep each saga's order and delete what the log took") {
    lt::test::PostgresSchema schema;
    if (!schema.enabled()) {
        lt::test::skip_notice();
        return;
    }
    OutboxHarness h(open_pg(schema, 8), 4);
    FaultyEventLog durable(h.log);  // reads as durable (like Kafka): published rows are deleted
    std::vector<std::unique_ptr<ports::SqlDatabase>> processes;
    std::vector<std::unique_ptr<OutboxRelay>> relays;
    auto options = test_options(40);
    options.delete_consumed = true;
    for (int i = 0; i < 3; ++i) {
        processes.push_back(open_pg(schema));
        relays.push_back(h.relay(options, processes.back().get(), &durable));
        relays.back()->start();
    }

    constexpr int kThreads = 4;
    std::atomic<bool> inserting{true};
    // Direct passes racing the relay threads must not send anything twice either.
    std::thread direct([&] {
        while (inserting.load()) {
            CHECK(relays[0]->publish_once());
            std::this_thread::yield();
        }
    });
    const auto total = insert_mixed_concurrently(h, kThreads, 150, 5, [&](int i) {
        relays[static_cast<std::size_t>(i) % relays.size()]->wake();
    });
    inserting = false;
    direct.join();
    for (auto& r : relays) r->wake();

    auto published = [&] {
        std::int64_t n = 0;
        for (auto& r : relays) n += static_cast<std::int64_t>(r->published());
        return n;
    };
    REQUIRE(eventually([&] { return published() == total; }, 120s));
    for (auto& r : relays) r->stop();
    CHECK(published() == total);
    CHECK(h.rows() == 0);  // deleted once the (durable) log took them
    for (auto& r : relays) CHECK(r->failures() == 0);
    check_exactly_once(h, total, kThreads);
}

TEST_CASE("on PostgreSQL an append failure ends the batch, only what the log took is deleted, the rest follows") {
    lt::test::PostgresSchema schema;
    if (!schema.enabled()) {
        lt::test::skip_notice();
        return;
    }
    OutboxHarness h(open_pg(schema), 1);
    FaultyEventLog log(h.log);
    auto options = test_options(50);
    options.delete_consumed = true;
    auto relay = h.relay(options, nullptr, &log);
    h.insert_usage(30);
    log.arm(7, FaultyEventLog::Mode::fail);
    CHECK_FALSE(relay->publish_once());
    CHECK(relay->published() == 7);
    CHECK(h.rows() == 23);
    CHECK(relay->backlog() == 23);
    log.heal();
    auto again = relay->publish_once();
    REQUIRE(again);
    CHECK(*again == 23);
    CHECK(h.rows() == 0);
    check_exactly_once(h, 30, 0);
}

TEST_CASE("on PostgreSQL a relay over a log in memory stamps what it published and keeps it") {
    lt::test::PostgresSchema schema;
    if (!schema.enabled()) {
        lt::test::skip_notice();
        return;
    }
    OutboxHarness h(open_pg(schema), 1);
    auto options = test_options(50);
    options.delete_consumed = true;  // the memory log is not durable: rows are kept all the same
    auto relay = h.relay(options);
    h.insert_usage(12);
    auto sent = relay->publish_once();
    REQUIRE(sent);
    CHECK(*sent == 12);
    CHECK(h.rows() == 12);
    CHECK(h.unpublished() == 0);
    check_exactly_once(h, 12, 0);
}

TEST_CASE("on PostgreSQL a relay holds the rows it publishes: another skips them, and takes them when it dies") {
    lt::test::PostgresSchema schema;
    if (!schema.enabled()) {
        lt::test::skip_notice();
        return;
    }
    OutboxHarness h(open_pg(schema), 1);
    FaultyEventLog durable(h.log);
    HoldingEventLog holding(durable);
    auto options = test_options(10);
    options.delete_consumed = true;
    // Named, so that the kill below reaches this relay's connection and no other test's (ctest runs
    // the PostgreSQL suites in parallel on one server).
    const std::string a_name = "relay_a_" + schema.name();
    auto a_db = open_pg(schema, 1, "application_name=" + a_name);
    auto b_db = open_pg(schema, 1);
    auto a = h.relay(options, a_db.get(), &holding);
    auto b = h.relay(options, b_db.get(), &durable);
    h.insert_usage(15);

    std::optional<Result<std::size_t>> a_result;
    std::thread a_pass([&] { a_result = a->publish_once(); });
    REQUIRE(holding.wait_entered(1));  // A holds rows 1-10 inside its transaction
    auto b_sent = b->publish_once();   // B skips them: only 11-15
    REQUIRE(b_sent);
    CHECK(*b_sent == 5);
    CHECK(h.rows() == 10);

    // A's process dies: its connection goes, its transaction with it, and its rows are free again.
    auto killed = h.db->transact_sync([&a_name](ports::SqlSession& s) -> Result<void> {
        auto q = s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                           {ports::SqlValue(a_name)});
        if (!q) return fail(q.error());
        CHECK(q->rows.size() == 1);
        return ok();
    });
    REQUIRE(killed);
    holding.release();
    a_pass.join();
    REQUIRE(a_result.has_value());  // failed, or (a retried transaction) took the freed rows itself
    REQUIRE(eventually([&] {
        auto r = b->publish_once();
        return r && h.rows() == 0;
    }));
    // A's first appends reached the log before it died: they are there twice, deduplicated by eventId.
    auto usage = h.read("token-usage");
    std::set<std::string> ids;
    for (const auto& r : usage) ids.insert(event_id_of(r.value));
    CHECK(ids.size() == 15);
    CHECK(usage.size() == 25);
}
