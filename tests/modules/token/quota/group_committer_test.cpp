// GroupCommitter: batching, per-unit failure isolation, ordering, stop.
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/detached.hpp>

#include "quota_harness.hpp"

namespace lt::token::test {
namespace {

using ports::SqlSession;
using ports::SqlValue;

/// A unit that blocks the drainer until released, so that a test can queue work behind it.
class Gate {
public:
    GroupCommitter::Work unit() {
        return [this](SqlSession&) {
            std::unique_lock lock(mutex_);
            entered_ = true;
            cv_.notify_all();
            cv_.wait(lock, [this] { return open_; });
            return ok();
        };
    }
    void wait_entered() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return entered_; });
    }
    void open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        cv_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool entered_ = false;
    bool open_ = false;
};

/// Collects completions.
struct Results {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::pair<int, Result<void>>> done;

    std::unique_ptr<CommitWaiter> waiter(int id) {
        return make_waiter([this, id](Result<void> r) {
            std::lock_guard lock(mutex);
            done.emplace_back(id, std::move(r));
            cv.notify_all();
        });
    }
    void wait_for(std::size_t n) {
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return done.size() >= n; });
    }
};

GroupCommitter::Work insert_kv(std::string k, std::int64_t v) {
    return [k = std::move(k), v](SqlSession& s) -> Result<void> {
        auto r = s.execute("INSERT INTO kv (k, v) VALUES ($1, $2)", {SqlValue(k), SqlValue(v)});
        if (!r) return fail(r.error());
        return ok();
    };
}

/// "k7": built by appending (g++ 12 -O3 reports a false -Wrestrict on "literal" + std::to_string(n)).
std::string numbered(std::string_view prefix, int n) {
    std::string text(prefix);
    text += std::to_string(n);
    return text;
}

void create_kv(QuotaHarness& h) { h.query("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"); }

}  // namespace

TEST_CASE("a submitted unit commits and its coroutine resumes on its own executor with success") {
    asio::io_context ioc;  // outlives the committer, whose thread posts to it
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    create_kv(h);
    std::thread::id resumed_on;
    Result<void> result = fail(Errc::internal, "not run");
    auto body = [](GroupCommitter* c, std::thread::id* on, Result<void>* out) -> asio::awaitable<void> {
        auto op = c->submit(insert_kv("a", 1));
        *out = co_await std::move(op);
        *on = std::this_thread::get_id();
    };
    asio::co_spawn(ioc, body(h.committer.get(), &resumed_on, &result), asio::detached);
    ioc.run();
    CHECK(result);
    CHECK(resumed_on == std::this_thread::get_id());
    CHECK(h.scalar("SELECT v FROM kv WHERE k = 'a'") == 1);
    CHECK(h.committer->items() == 1);
    CHECK(h.committer->batches() == 1);
}

TEST_CASE("units queued while the drainer is busy commit together in one transaction") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    create_kv(h);
    Gate gate;
    Results results;
    h.committer->enqueue(gate.unit(), results.waiter(-1));
    gate.wait_entered();
    const auto before = h.committer->transactions();
    for (int i = 0; i < 32; ++i) h.committer->enqueue(insert_kv(numbered("k", i), i), results.waiter(i));
    CHECK(h.committer->queue_depth() == 32);
    gate.open();
    results.wait_for(33);
    for (const auto& [id, r] : results.done) CHECK_MESSAGE(r, "unit " << id);
    CHECK(h.scalar("SELECT COUNT(*) FROM kv") == 32);
    CHECK(h.committer->transactions() - before == 1);  // the 32 queued units: one transaction
    CHECK(h.committer->transactions() < h.committer->items());
}

TEST_CASE("max_batch bounds the units in one transaction") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"), {}, 4);
    create_kv(h);
    Gate gate;
    Results results;
    h.committer->enqueue(gate.unit(), results.waiter(-1));
    gate.wait_entered();
    const auto before = h.committer->transactions();
    for (int i = 0; i < 10; ++i) h.committer->enqueue(insert_kv(numbered("k", i), i), results.waiter(i));
    gate.open();
    results.wait_for(11);
    CHECK(h.committer->transactions() - before == 3);  // 4 + 4 + 2
    CHECK(h.scalar("SELECT COUNT(*) FROM kv") == 10);
}

TEST_CASE("a failing unit in a batch fails alone and the other units commit") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    create_kv(h);
    Gate gate;
    Results results;
    h.committer->enqueue(gate.unit(), results.waiter(-1));
    gate.wait_entered();
    h.committer->enqueue(insert_kv("a", 1), results.waiter(1));
    h.committer->enqueue(insert_kv("b", 2), results.waiter(2));
    h.committer->enqueue(insert_kv("a", 3), results.waiter(3));  // duplicate key: constraint violation
    h.committer->enqueue([](SqlSession&) -> Result<void> { return fail(Errc::invalid_argument, "refused"); },
                         results.waiter(4));
    h.committer->enqueue(insert_kv("c", 5), results.waiter(5));
    gate.open();
    results.wait_for(6);
    std::map<int, Result<void>> by_id;
    for (auto& [id, r] : results.done) by_id.emplace(id, r);
    CHECK(by_id.at(1));
    CHECK(by_id.at(2));
    REQUIRE_FALSE(by_id.at(3));
    CHECK(by_id.at(3).error().code == Errc::conflict);
    REQUIRE_FALSE(by_id.at(4));
    CHECK(by_id.at(4).error().message == "refused");
    CHECK(by_id.at(5));
    CHECK(h.scalar("SELECT COUNT(*) FROM kv") == 3);
    CHECK(h.scalar("SELECT v FROM kv WHERE k = 'a'") == 1);
    CHECK(h.committer->fallbacks() == 1);
    CHECK(h.committer->failed_items() == 2);
}

TEST_CASE("consecutive units with a lead get their lead's result from one pipeline and keep the batch's order") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    create_kv(h);
    Gate gate;
    Results results;
    h.committer->enqueue(gate.unit(), results.waiter(-1));
    gate.wait_entered();
    static constexpr std::string_view kUpsert =
        "INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = kv.v + excluded.v RETURNING v";
    // Each unit runs its lead (the upsert) first and records what the lead returned.
    std::map<int, std::int64_t> seen;
    std::mutex seen_mutex;
    auto leading = [&](int id, std::string k, std::int64_t v) {
        GroupCommitter::Work work = [&, id, k, v](SqlSession& s) -> Result<void> {
            auto r = s.execute(kUpsert, {SqlValue(k), SqlValue(v)});
            if (!r) return fail(r.error());
            std::lock_guard lock(seen_mutex);
            seen[id] = ports::as_int(r->rows.at(0).at(0)).value_or(-1);
            return ok();
        };
        h.committer->enqueue(std::move(work), results.waiter(id), {}, true,
                             GroupCommitter::Lead{kUpsert, {SqlValue(k), SqlValue(v)}});
    };
    leading(1, "a", 1);
    leading(2, "a", 10);
    h.committer->enqueue(insert_kv("b", 5), results.waiter(3));  // no lead: keeps its place
    leading(4, "a", 100);
    leading(5, "b", 1);
    gate.open();
    results.wait_for(6);
    for (const auto& [id, r] : results.done) CHECK_MESSAGE(r, "unit " << id);
    CHECK(seen.at(1) == 1);
    CHECK(seen.at(2) == 11);
    CHECK(seen.at(4) == 111);
    CHECK(seen.at(5) == 6);  // after unit 3's insert of b = 5
    CHECK(h.scalar("SELECT v FROM kv WHERE k = 'a'") == 111);
    CHECK(h.committer->pipelines() == 2);  // units 1-2, then 4-5
    CHECK(h.committer->fallbacks() == 0);

    // A unit that runs another statement first fails its batch; alone it runs without the pipeline.
    Gate second;
    Results more;
    h.committer->enqueue(second.unit(), more.waiter(-1));
    second.wait_entered();
    GroupCommitter::Work wrong = [](SqlSession& s) -> Result<void> {
        auto r = s.execute("INSERT INTO kv (k, v) VALUES ('c', 1)");
        if (!r) return fail(r.error());
        return ok();
    };
    h.committer->enqueue(std::move(wrong), more.waiter(6), {}, true,
                         GroupCommitter::Lead{kUpsert, {SqlValue(std::string("d")), SqlValue(std::int64_t{1})}});
    leading(7, "a", 1000);
    second.open();
    more.wait_for(2);
    results.wait_for(7);
    for (const auto& [id, r] : more.done) CHECK_MESSAGE(r, "unit " << id);
    CHECK(h.committer->fallbacks() == 1);
    CHECK(h.scalar("SELECT v FROM kv WHERE k = 'c'") == 1);
    CHECK(h.scalar("SELECT COUNT(*) FROM kv WHERE k = 'd'") == 0);  // the lead of the batch that rolled back
    CHECK(h.scalar("SELECT v FROM kv WHERE k = 'a'") == 1111);      // unit 7 once
}

TEST_CASE("units commit in submission order, so the last write of a row wins") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"), {}, 8);
    create_kv(h);
    h.query("INSERT INTO kv (k, v) VALUES ('x', 0)");
    Results results;
    constexpr int kUnits = 500;
    for (int i = 1; i <= kUnits; ++i) {
        h.committer->enqueue(
            [i](SqlSession& s) -> Result<void> {
                auto r = s.execute("UPDATE kv SET v = $1 WHERE k = 'x'", {SqlValue(std::int64_t{i})});
                if (!r) return fail(r.error());
                return ok();
            },
            results.waiter(i));
    }
    results.wait_for(kUnits);
    for (std::size_t i = 0; i < results.done.size(); ++i) CHECK(results.done[i].first == static_cast<int>(i) + 1);
    CHECK(h.scalar("SELECT v FROM kv WHERE k = 'x'") == kUnits);
}

TEST_CASE("stop commits everything queued and then refuses new work") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    create_kv(h);
    Gate gate;
    Results results;
    h.committer->enqueue(gate.unit(), results.waiter(-1));
    gate.wait_entered();
    for (int i = 0; i < 20; ++i) h.committer->enqueue(insert_kv(numbered("k", i), i), results.waiter(i));
    std::thread opener([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        gate.open();
    });
    h.committer->stop();
    opener.join();
    CHECK(results.done.size() == 21);
    CHECK(h.scalar("SELECT COUNT(*) FROM kv") == 20);
    auto late = h.committer->submit_sync(insert_kv("late", 1));
    REQUIRE_FALSE(late);
    CHECK(late.error().code == Errc::unavailable);
    h.committer->stop();  // idempotent
}

TEST_CASE("a unit that throws fails with an internal error and the drainer keeps going") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    create_kv(h);
    auto thrown = h.committer->submit_sync([](SqlSession&) -> Result<void> { throw std::runtime_error("boom"); });
    REQUIRE_FALSE(thrown);
    CHECK(thrown.error().code == Errc::internal);
    CHECK(h.committer->submit_sync(insert_kv("after", 1)));
    CHECK(h.scalar("SELECT COUNT(*) FROM kv") == 1);
}

TEST_CASE("submit_sync from inside a unit is refused instead of deadlocking") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    GroupCommitter* committer = h.committer.get();
    Result<void> inner = ok();
    CHECK(committer->submit_sync([&](SqlSession&) {
        inner = committer->submit_sync([](SqlSession&) { return ok(); });
        return ok();
    }));
    REQUIRE_FALSE(inner);
    CHECK(inner.error().code == Errc::internal);
}

}  // namespace lt::token::test
