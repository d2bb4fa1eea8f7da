// PurchaseSaga over real SQLite: each step committed with its outbox event, idempotency per user,
// payment decline and simulated failure with compensation, recovery of every interrupted state,
// and exact credits under concurrency.
#include <atomic>
#include <deque>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "quota_harness.hpp"
#include "saga/payment.hpp"
#include "saga/purchase_saga.hpp"

namespace lt::token::test {
namespace {

using namespace std::chrono_literals;

struct SagaHarness : QuotaHarness {
    explicit SagaHarness(const std::filesystem::path& file, SagaOptions options = {},
                         SimulatedPaymentOptions payment = {})
        : QuotaHarness(file),
          payments(*db, clock, payment),
          saga(*db, blocking, *quota, payments, clock, &metrics, nullptr, options, [this] { ++wakes; }) {}

    Result<Saga> buy(PurchaseRequest request) { return run(saga.purchase(std::move(request))); }

    Saga must_buy(PurchaseRequest request) {
        auto r = buy(std::move(request));
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        return *r;
    }

    /// Event types of the saga's outbox rows, in commit order.
    std::vector<std::string> events_of(const std::string& saga_id) {
        auto r = query("SELECT event_type, aggregate_type, payload FROM token_outbox WHERE aggregate_id = $1 ORDER BY seq",
                       {ports::SqlValue(saga_id)});
        std::vector<std::string> out;
        for (const auto& row : r.rows) out.push_back(*ports::as_text(row[0]));
        return out;
    }

    std::string saga_status(const std::string& id) {
        auto r = query("SELECT status FROM token_purchase_saga WHERE id = $1", {ports::SqlValue(id)});
        REQUIRE(r.rows.size() == 1);
        return *ports::as_text(r.rows[0][0]);
    }

    PaymentState payment(const std::string& id) {
        auto s = payments.state(id);
        REQUIRE(s);
        return *s;
    }

    std::int64_t purchased(const PoolKey& key) {
        auto p = stored(key);
        return p ? p->balance.purchased_total : 0;
    }

    /// Delivers every PAYMENT_RELEASE_REQUESTED row of the outbox to the compensation handler, as the
    /// relay and the consumer would.
    void deliver_compensations() {
        auto r = query("SELECT payload FROM token_outbox WHERE event_type = 'PAYMENT_RELEASE_REQUESTED' ORDER BY seq");
        std::int64_t offset = 0;
        for (const auto& row : r.rows) {
            ports::EventRecord rec;
            rec.topic = "token-purchase-events";
            rec.offset = offset++;
            rec.value = *ports::as_text(row[0]);
            REQUIRE(saga.handle_event(rec));
        }
    }

    /// Inserts a saga directly in `status`, last updated `age` ago (a crash left it there).
    Saga plant(SagaStatus status, std::chrono::minutes age, const PoolKey& key, std::int64_t tokens) {
        Saga s;
        s.id = new_uuid();
        s.user_id = key.owner_id;
        s.provider = key.provider;
        s.tokens = tokens;
        s.status = status;
        s.created_at = s.updated_at = clock.now() - age;
        REQUIRE(db->transact_sync([&](ports::SqlSession& session) { return insert_saga(session, s); }));
        return s;
    }

    MetricsRegistry metrics;
    SimulatedPaymentProvider payments;
    std::atomic<int> wakes{0};
    PurchaseSaga saga;
};

double counter(MetricsRegistry& m, std::string_view name) {
    auto text = m.render();
    auto pos = text.find("\n" + std::string(name) + " ");
    if (pos == std::string::npos) return 0;
    return std::stod(text.substr(pos + name.size() + 2));
}

PurchaseRequest request_for(const PoolKey& key, std::int64_t tokens, std::optional<std::string> idem = std::nullopt) {
    PurchaseRequest r;
    r.user_id = key.owner_id;
    r.provider = key.provider;
    r.tokens = tokens;
    r.idempotency_key = std::move(idem);
    return r;
}

}  // namespace

TEST_CASE("a purchase runs every step as its own committed transaction and credits the pool once") {
    TempDir dir;
    SagaHarness h(dir.path() / "t.db");
    auto key = user_key();
    auto saga = h.must_buy(request_for(key, 500, "k1"));

    CHECK(saga.status == SagaStatus::completed);
    CHECK(h.saga_status(saga.id) == "COMPLETED");
    CHECK(h.events_of(saga.id) == std::vector<std::string>{"TOKEN_PURCHASE_STARTED", "TOKEN_PAYMENT_RESERVED",
                                                           "TOKEN_ALLOCATED", "TOKEN_PURCHASE_COMPLETED"});
    CHECK(h.purchased(key) == 500);
    CHECK(h.stored(key)->balance.purchased_remaining == 500);
    CHECK(h.payment(saga.id) == PaymentState::captured);
    CHECK(h.wakes.load() == 4);  // the relay is woken after every commit that wrote an event
    CHECK(counter(h.metrics, "token_purchase_saga_started_total") == 1);
    CHECK(counter(h.metrics, "token_purchase_saga_completed_total") == 1);
    CHECK(counter(h.metrics, "token_purchase_saga_failed_total") == 0);

    // The events carry the envelope and the saga snapshot of their own step.
    auto rows = h.query("SELECT payload FROM token_outbox WHERE aggregate_id = $1 ORDER BY seq", {ports::SqlValue(saga.id)});
    REQUIRE(rows.rows.size() == 4);
    auto env = boost::json::parse(*ports::as_text(rows.rows[2][0])).as_object();
    CHECK(env.at("eventType").as_string() == "token.purchase.v1");
    CHECK(env.at("eventId").as_string().size() == 36);
    auto& payload = env.at("payload").as_object();
    CHECK(payload.at("event").as_string() == "TOKEN_ALLOCATED");
    CHECK(payload.at("status").as_string() == "TOKENS_ALLOCATED");
    CHECK(payload.at("sagaId").as_string() == saga.id);
    CHECK(payload.at("tokens").as_int64() == 500);
    CHECK(payload.at("idempotencyKey").as_string() == "k1");

    // An org purchase credits the org's pool.
    auto org = org_key("gemini");
    auto req = request_for(user_key("gemini"), 70);
    req.org_id = org.owner_id;
    auto org_saga = h.must_buy(req);
    CHECK(org_saga.status == SagaStatus::completed);
    CHECK(h.purchased(org) == 70);
}

TEST_CASE("the same key and payload replays the saga, another payload is a conflict, and keys are per user") {
    TempDir dir;
    SagaHarness h(dir.path() / "t.db");
    auto key = user_key();
    auto first = h.must_buy(request_for(key, 100, "same"));
    h.clock.advance(5s);
    auto again = h.must_buy(request_for(key, 100, "same"));
    CHECK(again.id == first.id);
    CHECK(again.status == SagaStatus::completed);
    CHECK(again.created_at == first.created_at);
    CHECK(h.purchased(key) == 100);  // no second credit
    CHECK(h.events_of(first.id).size() == 4);  // no new events

    auto other = h.buy(request_for(key, 101, "same"));
    REQUIRE_FALSE(other);
    CHECK(other.error().code == Errc::conflict);
    CHECK(other.error().message == "Idempotency key reuse with different payload");
    auto other_provider = request_for(PoolKey{OwnerType::user, key.owner_id, "qwen"}, 100, "same");
    CHECK_FALSE(h.buy(other_provider));

    // Another user may use the same key.
    auto someone = user_key();
    auto theirs = h.must_buy(request_for(someone, 100, "same"));
    CHECK(theirs.id != first.id);
    CHECK(h.purchased(someone) == 100);

    // Without a key every request is a new purchase.
    h.must_buy(request_for(key, 1));
    h.must_buy(request_for(key, 1));
    CHECK(h.purchased(key) == 102);
    CHECK(h.scalar("SELECT COUNT(*) FROM token_purchase_saga") == 4);
}

TEST_CASE("a declined payment fails the saga without credit and its compensation is applied once") {
    TempDir dir;
    SagaHarness h(dir.path() / "t.db", {}, SimulatedPaymentOptions{1.0, 0ms});
    auto key = user_key();
    auto saga = h.must_buy(request_for(key, 300));
    CHECK(saga.status == SagaStatus::failed);
    CHECK(saga.failure_reason == std::optional<std::string>("payment declined"));
    CHECK(h.events_of(saga.id) ==
          std::vector<std::string>{"TOKEN_PURCHASE_STARTED", "TOKEN_PURCHASE_FAILED", "PAYMENT_RELEASE_REQUESTED"});
    CHECK(h.purchased(key) == 0);
    CHECK(h.payment(saga.id) == PaymentState::none);
    h.deliver_compensations();
    h.deliver_compensations();  // redelivery is harmless
    CHECK(h.payment(saga.id) == PaymentState::released);
    CHECK(h.scalar("SELECT COUNT(*) FROM token_purchase_saga WHERE compensated_at IS NOT NULL") == 1);
    CHECK(counter(h.metrics, "token_purchase_saga_failed_total") == 1);
    CHECK(counter(h.metrics, "token_purchase_saga_compensated_total") == 1);
}

TEST_CASE("simulate-failure fails after the payment step and the compensation releases the reserved payment") {
    TempDir dir;
    SagaOptions options;
    options.simulate_failure = true;
    SagaHarness h(dir.path() / "t.db", options);
    auto key = user_key();
    auto saga = h.must_buy(request_for(key, 300));
    CHECK(saga.status == SagaStatus::failed);
    CHECK(h.events_of(saga.id) == std::vector<std::string>{"TOKEN_PURCHASE_STARTED", "TOKEN_PAYMENT_RESERVED",
                                                           "TOKEN_PURCHASE_FAILED", "PAYMENT_RELEASE_REQUESTED"});
    CHECK(h.purchased(key) == 0);
    CHECK(h.payment(saga.id) == PaymentState::reserved);
    h.deliver_compensations();
    CHECK(h.payment(saga.id) == PaymentState::released);
    // A released payment cannot be reserved again for that saga.
    auto again = h.payments.reserve(saga.id, key.owner_id, 300);
    REQUIRE_FALSE(again);
    CHECK(again.error().code == Errc::conflict);
}

TEST_CASE("recovery completes or compensates every interrupted state, crediting at most once") {
    TempDir dir;
    SagaOptions options;
    options.stale_after = 10min;
    SagaHarness h(dir.path() / "t.db", options);
    auto key = user_key();

    auto started = h.plant(SagaStatus::started, 11min, key, 10);
    REQUIRE(h.payments.reserve(started.id, key.owner_id, 10));  // the crash came after the payment call
    auto reserved = h.plant(SagaStatus::payment_reserved, 11min, key, 200);
    REQUIRE(h.payments.reserve(reserved.id, key.owner_id, 200));
    auto allocated = h.plant(SagaStatus::tokens_allocated, 11min, key, 3000);
    REQUIRE(h.payments.reserve(allocated.id, key.owner_id, 3000));
    auto fresh = h.plant(SagaStatus::payment_reserved, 1min, key, 40000);  // not stale yet
    REQUIRE(h.payments.reserve(fresh.id, key.owner_id, 40000));

    auto done = run(h.saga.recover_once());
    REQUIRE(done);
    CHECK(*done == 3);
    CHECK(h.saga_status(started.id) == "FAILED");
    CHECK(h.saga_status(reserved.id) == "COMPLETED");
    CHECK(h.saga_status(allocated.id) == "COMPLETED");
    CHECK(h.saga_status(fresh.id) == "PAYMENT_RESERVED");
    // Only the PAYMENT_RESERVED saga is credited by recovery (TOKENS_ALLOCATED was credited before the crash).
    CHECK(h.purchased(key) == 200);
    CHECK(h.payment(reserved.id) == PaymentState::captured);
    CHECK(h.payment(allocated.id) == PaymentState::captured);
    CHECK(h.events_of(started.id) == std::vector<std::string>{"TOKEN_PURCHASE_FAILED", "PAYMENT_RELEASE_REQUESTED"});
    CHECK(h.scalar("SELECT COUNT(*) FROM token_outbox WHERE aggregate_type = 'TokenPurchaseSagaRecovery'") == 4);
    CHECK(h.scalar("SELECT COUNT(*) FROM token_outbox WHERE aggregate_type = "
                   "'TokenPurchaseSagaRecoveryCompensation'") == 1);

    // The compensation was not delivered (say the event was lost): once stale, recovery releases it.
    CHECK(h.payment(started.id) == PaymentState::reserved);
    h.clock.advance(11min);
    auto second = run(h.saga.recover_once());
    REQUIRE(second);
    CHECK(h.payment(started.id) == PaymentState::released);
    CHECK(h.saga_status(fresh.id) == "COMPLETED");
    CHECK(h.purchased(key) == 40200);
    auto third = run(h.saga.recover_once());
    REQUIRE(third);
    CHECK(*third == 0);  // nothing left to do
    CHECK(h.purchased(key) == 40200);
}

TEST_CASE("concurrent first requests with one key create one saga and credit once") {
    TempDir dir;
    SagaHarness h(dir.path() / "t.db");
    auto key = user_key();
    constexpr int kRequests = 32;
    asio::io_context io;
    std::vector<std::string> ids(kRequests);
    std::atomic<int> conflicts{0};
    for (int i = 0; i < kRequests; ++i) {
        asio::co_spawn(io, h.saga.purchase(request_for(key, 250, "race")), [&, i](std::exception_ptr e, Result<Saga> r) {
            REQUIRE_FALSE(e);
            if (r) ids[i] = r->id;
            else ++conflicts;
        });
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back([&] { io.run(); });
    for (auto& t : threads) t.join();
    CHECK(conflicts.load() == 0);
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 1);
    CHECK(h.scalar("SELECT COUNT(*) FROM token_purchase_saga") == 1);
    CHECK(h.purchased(key) == 250);
}

TEST_CASE("many threads buying for one pool: the purchased total is exact, also with recovery racing") {
    TempDir dir;
    SagaOptions options;
    options.stale_after = 0ms;  // recovery treats every unfinished saga as stale and races the requests
    SagaHarness h(dir.path() / "t.db", options);
    auto key = user_key();
    constexpr int kRequests = 200;
    asio::io_context io;
    std::atomic<int> completed{0};
    std::atomic<int> recoveries{0};
    for (int i = 0; i < kRequests; ++i) {
        std::string idem = std::to_string(i);  // (not "k" + to_string: g++ 12 -Wrestrict false positive)
        asio::co_spawn(io, h.saga.purchase(request_for(key, i + 1, idem)),
                       [&](std::exception_ptr e, Result<Saga> r) {
                           REQUIRE_FALSE(e);
                           if (r && r->status == SagaStatus::completed) ++completed;
                       });
        if (i % 20 == 0) {
            asio::co_spawn(io, h.saga.recover_once(), [&](std::exception_ptr e, Result<std::size_t>) {
                REQUIRE_FALSE(e);
                ++recoveries;
            });
        }
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back([&] { io.run(); });
    for (auto& t : threads) t.join();
    // Whatever interleaving happened, every saga ends terminal once recovery has run again.
    auto tail = run(h.saga.recover_once());
    REQUIRE(tail);
    CHECK(h.scalar("SELECT COUNT(*) FROM token_purchase_saga WHERE status NOT IN ('COMPLETED', 'FAILED')") == 0);
    const auto credited_sum = h.scalar("SELECT COALESCE(SUM(tokens), 0) FROM token_purchase_saga WHERE status = 'COMPLETED'");
    CHECK(h.purchased(key) == credited_sum);
    CHECK(h.scalar("SELECT COUNT(*) FROM token_outbox WHERE event_type = 'TOKEN_ALLOCATED'") ==
          h.scalar("SELECT COUNT(*) FROM token_purchase_saga WHERE status = 'COMPLETED'"));
    CHECK(completed.load() + h.scalar("SELECT COUNT(*) FROM token_purchase_saga WHERE status = 'FAILED'") <= kRequests);
    CHECK(h.purchased(key) > 0);
}

}  // namespace lt::token::test

namespace lt::token::test {
namespace {

/// Runs `aw` on its own io_context on the calling thread (the shared run() helper is for one thread).
template <class T>
T run_here(asio::awaitable<T> aw) {
    static thread_local std::deque<asio::io_context> contexts;  // outlive the pools that post to them
    auto& ioc = contexts.emplace_back();
    std::optional<T> out;
    asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T value) {
        if (!e) out.emplace(std::move(value));
    });
    ioc.run();
    REQUIRE(out);
    return std::move(*out);
}

}  // namespace

TEST_CASE("an interrupted saga claimed by one process is skipped by another until the claim expires") {
    TempDir dir;
    SagaHarness a(dir.path() / "t.db");
    SagaHarness b(dir.path() / "t.db");
    auto key = user_key();
    auto stale = a.plant(SagaStatus::payment_reserved, 11min, key, 70);
    REQUIRE(a.payments.reserve(stale.id, key.owner_id, 70));
    // Another process claimed it (and is recovering it, or died doing so).
    REQUIRE(a.db->transact_sync([&](ports::SqlSession& s) -> Result<void> {
        auto claimed = claim_recovery(s, stale, "another-process", a.clock.now(), a.clock.now() + 5min);
        if (!claimed) return fail(claimed.error());
        REQUIRE(*claimed);
        return ok();
    }));
    auto skipped = run(b.saga.recover_once());
    REQUIRE(skipped);
    CHECK(*skipped == 0);
    CHECK(b.saga_status(stale.id) == "PAYMENT_RESERVED");
    b.clock.advance(6min);  // the claim expired: its process is presumed dead
    auto done = run(b.saga.recover_once());
    REQUIRE(done);
    CHECK(*done == 1);
    CHECK(b.saga_status(stale.id) == "COMPLETED");
    CHECK(b.purchased(key) == 70);
}

TEST_CASE("two processes recovering at once finish each interrupted saga exactly once") {
    for (int loop = 0; loop < 5; ++loop) {
        CAPTURE(loop);
        TempDir dir;
        SagaHarness a(dir.path() / "t.db");
        SagaHarness b(dir.path() / "t.db");
        auto key = user_key();
        constexpr int kSagas = 30;
        std::vector<Saga> planted;
        for (int i = 0; i < kSagas; ++i) {
            planted.push_back(a.plant(i % 2 ? SagaStatus::payment_reserved : SagaStatus::tokens_allocated, 11min, key, 1));
            REQUIRE(a.payments.reserve(planted.back().id, key.owner_id, 1));
        }
        std::size_t done_a = 0;
        std::size_t done_b = 0;
        std::thread ta([&] {
            auto r = run_here(a.saga.recover_once());
            REQUIRE(r);
            done_a = *r;
        });
        std::thread tb([&] {
            auto r = run_here(b.saga.recover_once());
            REQUIRE(r);
            done_b = *r;
        });
        ta.join();
        tb.join();
        CHECK(done_a + done_b == kSagas);  // each saga recovered by one of them
        for (const auto& s : planted) CHECK(a.saga_status(s.id) == "COMPLETED");
        CHECK(a.purchased(key) == kSagas / 2);  // only PAYMENT_RESERVED ones are credited, once
        // One recovery per saga: its COMPLETED event exists once.
        CHECK(a.scalar("SELECT COUNT(*) FROM token_outbox WHERE event_type = 'TOKEN_PURCHASE_COMPLETED'") == kSagas);
        CHECK(counter(a.metrics, "token_purchase_saga_recovered_total") +
                  counter(b.metrics, "token_purchase_saga_recovered_total") == kSagas);
        MESSAGE("loop " << loop << ": process a recovered " << done_a << ", process b " << done_b);
    }
}

}  // namespace lt::token::test
