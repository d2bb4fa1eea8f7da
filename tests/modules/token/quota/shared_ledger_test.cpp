// The shared quota mode (token.quota.reservation=shared, CONTRACT 30): the debit is decided in SQL, so
// two ledgers over two connections to ONE database (two processes) admit against one balance. Real
// SQLite files; the hammer runs 32 threads over both "processes".
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <random>
#include <thread>
#include <vector>

#include <boost/asio/detached.hpp>

#include "shared_ledger_harness.hpp"

namespace lt::token::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

SharedLedgerOptions options(std::chrono::milliseconds window = 24h, std::chrono::milliseconds timeout = 60s) {
    SharedLedgerOptions o;
    o.quota.window = window;
    o.reservation_timeout = timeout;
    return o;
}

PoolView view(LedgerProcess& p, const PoolKey& key, Clock::time_point now) {
    auto v = run(p.ledger->get(key, std::nullopt, now));
    REQUIRE_MESSAGE(v, (v ? "" : v.error().message));
    REQUIRE(*v);
    return **v;
}

/// Funds `key` with allowance A and purchased P through `p`.
void fund(LedgerProcess& p, const PoolKey& key, std::int64_t allowance, std::int64_t purchased, Clock::time_point now) {
    REQUIRE(run(p.ledger->set_allowance(key, allowance, std::nullopt, now)));
    if (purchased > 0) REQUIRE(run(p.ledger->credit_purchase(key, purchased, now)));
}

}  // namespace

TEST_CASE("shared ledger: a reservation debits at once and is visible to another process") {
    for (const auto& backend : backends()) {
        CAPTURE(backend);
        SharedDatabase where(backend);
        LedgerProcess a(where, options());
        LedgerProcess b(where, options());
        const auto now = Clock::now();
        const auto key = user_key();
        fund(a, key, 10, 5, now);

        auto r = run(a.ledger->reserve(key, 12, std::nullopt, now));
        REQUIRE(r);
        auto seen = view(b, key, now);  // the other process sees the debit: a first, then p
        CHECK(seen.allowance_remaining == 0);
        CHECK(seen.purchased_remaining == 3);
        CHECK(seen.pending == 0);
        CHECK(b.scalar("SELECT COUNT(*) FROM token_reservations") == 1);

        auto refused = run(b.ledger->reserve(key, 4, std::nullopt, now));
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == Errc::payment_required);

        a.ledger->release(std::move(*r));  // queued credit: exactly the split back
        a.flush();
        seen = view(b, key, now);
        CHECK(seen.allowance_remaining == 10);
        CHECK(seen.purchased_remaining == 5);
        CHECK(b.scalar("SELECT COUNT(*) FROM token_reservations") == 0);

        auto s = run(b.ledger->reserve(key, 15, std::nullopt, now));
        REQUIRE(s);
        REQUIRE(run(b.ledger->settle(std::move(*s), {usage_row(now)}, now)));
        seen = view(a, key, now);
        CHECK(seen.remaining() == 0);
        CHECK(a.scalar("SELECT COUNT(*) FROM token_outbox") == 1);
        CHECK(a.scalar("SELECT COUNT(*) FROM token_reservations") == 0);
    }
}

TEST_CASE("shared ledger: a bucket refusal records its event only when the pool covers the request, reserving nothing") {
    for (const auto& backend : backends()) {
        CAPTURE(backend);
        SharedDatabase where(backend);
        LedgerProcess a(where, options(1h));
        LedgerProcess b(where, options(1h));
        const auto t0 = Clock::now();
        const auto key = user_key();
        CHECK(a.ledger->bucket_first());

        auto none = run(a.ledger->record_if_covered(key, 1, std::nullopt, t0, {usage_row(t0)}));  // no pool: 402
        REQUIRE_FALSE(none);
        CHECK(none.error().code == Errc::payment_required);
        CHECK(a.scalar("SELECT COUNT(*) FROM token_outbox") == 0);

        fund(a, key, 10, 5, t0);
        REQUIRE(run(b.ledger->record_if_covered(key, 15, std::nullopt, t0, {usage_row(t0)})));  // a + p = 15: 429
        CHECK(a.scalar("SELECT COUNT(*) FROM token_outbox") == 1);
        auto seen = view(a, key, t0);  // nothing reserved, nothing debited
        CHECK(seen.allowance_remaining == 10);
        CHECK(seen.purchased_remaining == 5);
        CHECK(a.scalar("SELECT COUNT(*) FROM token_reservations") == 0);

        auto short_by_one = run(b.ledger->record_if_covered(key, 16, std::nullopt, t0, {usage_row(t0)}));
        REQUIRE_FALSE(short_by_one);
        CHECK(short_by_one.error().code == Errc::payment_required);
        CHECK(a.scalar("SELECT COUNT(*) FROM token_outbox") == 1);

        // Two rows take the general path; a held reservation counts as spent.
        auto held = run(a.ledger->reserve(key, 12, std::nullopt, t0));
        REQUIRE(held);
        auto over = run(b.ledger->record_if_covered(key, 4, std::nullopt, t0, {usage_row(t0), usage_row(t0)}));
        REQUIRE_FALSE(over);
        CHECK(over.error().code == Errc::payment_required);
        REQUIRE(run(b.ledger->record_if_covered(key, 3, std::nullopt, t0, {usage_row(t0), usage_row(t0)})));
        CHECK(a.scalar("SELECT COUNT(*) FROM token_outbox") == 3);
        REQUIRE(run(a.ledger->settle(std::move(*held), {}, t0)));

        // A window that is due is judged refilled (as reserve() would), and left unwritten.
        const auto later = t0 + 2h;
        auto spent = run(b.ledger->record_if_covered(key, 4, std::nullopt, t0, {usage_row(t0)}));
        REQUIRE_FALSE(spent);  // 3 left in this window
        REQUIRE(run(b.ledger->record_if_covered(key, 13, std::nullopt, later, {usage_row(later)})));
        CHECK(a.scalar("SELECT allowance_remaining FROM token_pools") == 0);
        CHECK(a.scalar("SELECT COUNT(*) FROM token_outbox") == 4);
    }
}

TEST_CASE("shared ledger: a reservation dropped without settle is refunded and a second settle is refused") {
    for (const auto& backend : backends()) {
        CAPTURE(backend);
        SharedDatabase where(backend);
        LedgerProcess a(where, options());
        const auto now = Clock::now();
        const auto key = org_key();
        fund(a, key, 0, 7, now);
        {
            auto r = run(a.ledger->reserve(key, 7, std::nullopt, now));
            REQUIRE(r);
            CHECK(view(a, key, now).purchased_remaining == 0);
        }  // destroyed while held: released
        a.flush();
        CHECK(view(a, key, now).purchased_remaining == 7);
        Reservation empty;
        auto again = run(a.ledger->settle(std::move(empty), {}, now));
        REQUIRE_FALSE(again);
        CHECK(again.error().code == Errc::invalid_argument);
    }
}

TEST_CASE("shared ledger: a reservation of a dead process is refunded once by the sweep and cannot be settled after") {
    for (const auto& backend : backends()) {
        CAPTURE(backend);
        SharedDatabase where(backend);
        LedgerProcess a(where, options(24h, 2s));
        LedgerProcess b(where, options(24h, 2s));
        const auto now = Clock::now();
        const auto key = user_key();
        fund(a, key, 100, 50, now);
        auto r = run(a.ledger->reserve(key, 120, std::nullopt, now));  // 100 from a, 20 from p
        REQUIRE(r);
        CHECK(view(b, key, now).remaining() == 30);

        // Not yet expired: nothing to sweep.
        auto early = run(b.ledger->sweep_expired(now + 1s));
        REQUIRE(early);
        CHECK(*early == 0);
        // "a" is presumed dead: both processes sweep; exactly one refund happens.
        auto swept_b = run(b.ledger->sweep_expired(now + 3s));
        auto swept_a = run(a.ledger->sweep_expired(now + 3s));
        REQUIRE(swept_b);
        REQUIRE(swept_a);
        CHECK(*swept_b + *swept_a == 1);
        auto v = view(b, key, now);
        CHECK(v.allowance_remaining == 100);
        CHECK(v.purchased_remaining == 50);

        // The late settle of the swept reservation spends nothing and writes no event.
        auto late = run(a.ledger->settle(std::move(*r), {usage_row(now)}, now));
        REQUIRE_FALSE(late);
        CHECK(late.error().code == Errc::conflict);
        CHECK(view(a, key, now).remaining() == 150);
        CHECK(a.scalar("SELECT COUNT(*) FROM token_outbox") == 0);
    }
}

TEST_CASE("shared ledger: a release after a window reset refunds purchased tokens but not the old window's allowance") {
    for (const auto& backend : backends()) {
        CAPTURE(backend);
        SharedDatabase where(backend);
        LedgerProcess a(where, options(1h));
        const auto t0 = Clock::now();
        const auto key = user_key();
        fund(a, key, 10, 10, t0);
        auto r = run(a.ledger->reserve(key, 15, std::nullopt, t0));  // 10 from a, 5 from p
        REQUIRE(r);
        auto later = t0 + 2h;
        auto v = view(a, key, later);  // lazy reset: a = A
        CHECK(v.allowance_remaining == 10);
        CHECK(v.purchased_remaining == 5);
        a.ledger->release(std::move(*r));
        a.flush();
        v = view(a, key, later);
        CHECK(v.allowance_remaining == 10);  // never above A
        CHECK(v.purchased_remaining == 10);
    }
}

TEST_CASE("shared ledger: the default pool is created once by racing processes and never refilled") {
    for (const auto& backend : backends()) {
        CAPTURE(backend);
        SharedDatabase where(backend);
        LedgerProcess a(where, options());
        LedgerProcess b(where, options());
        const auto now = Clock::now();
        const auto key = user_key();
        auto first = run(a.ledger->set_allowance(key, 10, std::nullopt, now, true));
        REQUIRE(first);
        auto r = run(a.ledger->reserve(key, 4, std::nullopt, now));
        REQUIRE(r);
        REQUIRE(run(a.ledger->settle(std::move(*r), {}, now)));
        auto second = run(b.ledger->set_allowance(key, 10, std::nullopt, now, true));
        REQUIRE_FALSE(second);
        CHECK(second.error().code == Errc::conflict);
        CHECK(view(b, key, now).allowance_remaining == 6);
    }
}

namespace {

struct Stats {
    std::atomic<std::int64_t> requested{0};
    std::atomic<std::int64_t> settled_tokens{0};
    std::atomic<std::int64_t> settles{0};
    std::atomic<std::int64_t> releases{0};
    std::atomic<std::int64_t> refusals{0};
    std::atomic<std::int64_t> errors{0};
    std::atomic<std::int64_t> negative_views{0};
};

struct ClientPlan {
    int ops = 100;
    bool random_sizes = false;   ///< 1..5 tokens, else 1
    bool releases = false;       ///< release 1 in 3 instead of settling
    bool real_time = false;      ///< Clock::now() per request (window resets race), else a fixed instant
    Clock::time_point fixed;
};

asio::awaitable<void> client(SharedQuotaLedger* ledger, PoolKey key, unsigned seed, ClientPlan plan, Stats* stats) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::int64_t> sizes(1, 5);
    for (int i = 0; i < plan.ops; ++i) {
        const std::int64_t n = plan.random_sizes ? sizes(rng) : 1;
        const auto now = plan.real_time ? Clock::now() : plan.fixed;
        stats->requested += n;
        auto reserve = ledger->reserve(key, n, std::nullopt, now);
        auto r = co_await std::move(reserve);
        if (!r) {
            (r.error().code == Errc::payment_required ? stats->refusals : stats->errors)++;
            continue;
        }
        if (plan.releases && rng() % 3 == 0) {
            ledger->release(std::move(*r));
            stats->releases++;
        } else {
            auto settle = ledger->settle(std::move(*r), {usage_row(now)}, now);
            if (co_await std::move(settle)) {
                stats->settled_tokens += n;
                stats->settles++;
            } else {
                stats->errors++;
            }
        }
        if (i % 16 == 0) {
            auto get = ledger->get(key, std::nullopt, now);
            auto v = co_await std::move(get);
            if (!v || !*v) {
                stats->errors++;
            } else if ((*v)->allowance_remaining < 0 || (*v)->purchased_remaining < 0 ||
                       (*v)->allowance_remaining > (*v)->allowance) {
                stats->negative_views++;
            }
        }
    }
}

/// 32 threads, 16 on each of two processes over one SQLite file, all on ONE pool.
struct HammerResult {
    std::int64_t requested = 0;
    std::int64_t settled = 0;
    std::int64_t settles = 0;
    std::int64_t refusals = 0;
    std::int64_t errors = 0;
    std::int64_t negative_views = 0;
    StoredPool row;
    std::int64_t outbox = 0;
    std::int64_t reservations = 0;
    double seconds = 0;
};

HammerResult hammer(const std::string& backend, std::int64_t allowance, std::int64_t purchased, ClientPlan plan,
                    std::chrono::milliseconds window) {
    constexpr int kThreads = 32;
    std::deque<asio::io_context> contexts(kThreads);  // outlive the processes, whose threads post to them
    SharedDatabase where(backend);
    LedgerProcess p1(where, options(window));
    LedgerProcess p2(where, options(window));
    const auto key = user_key();
    fund(p1, key, allowance, purchased, Clock::now());
    plan.fixed = Clock::now();
    Stats stats;
    std::random_device rd;
    const unsigned seed = rd();
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            auto& ioc = contexts[static_cast<std::size_t>(t)];
            SharedQuotaLedger* ledger = (t % 2 == 0 ? p1 : p2).ledger.get();
            asio::co_spawn(ioc, client(ledger, key, seed + static_cast<unsigned>(t), plan, &stats), asio::detached);
            ioc.run();
        });
    }
    for (auto& t : threads) t.join();
    p1.flush();
    p2.flush();
    HammerResult out;
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.requested = stats.requested;
    out.settled = stats.settled_tokens;
    out.settles = stats.settles;
    out.refusals = stats.refusals;
    out.errors = stats.errors;
    out.negative_views = stats.negative_views;
    auto row = p2.stored(key);
    REQUIRE(row);
    out.row = *row;
    out.outbox = p2.scalar("SELECT COUNT(*) FROM token_outbox");
    out.reservations = p2.scalar("SELECT COUNT(*) FROM token_reservations");
    INFO("seed " << seed);
    return out;
}

int loops() {
    const char* env = std::getenv("LT_HAMMER_LOOPS");
    return env ? std::max(1, std::atoi(env)) : 1;
}

}  // namespace

TEST_CASE("two processes, 32 threads, one pool: admitted = min(requests, balance) exactly") {
    for (const auto& backend : backends()) {
        for (int loop = 0; loop < loops(); ++loop) {
            CAPTURE(backend);
            CAPTURE(loop);
            ClientPlan plan;
            plan.ops = 60;  // 32 × 60 = 1920 one-token requests for 1500 tokens
            auto r = hammer(backend, 1000, 500, plan, 24h);
            CHECK(r.errors == 0);
            CHECK(r.negative_views == 0);
            CHECK(r.settled == std::min<std::int64_t>(r.requested, 1500));
            CHECK(r.row.balance.allowance_remaining == 1000 - std::min<std::int64_t>(r.settled, 1000));  // a first
            CHECK(r.row.balance.purchased_remaining == 500 - std::max<std::int64_t>(0, r.settled - 1000));
            CHECK(r.row.balance.allowance_remaining + r.row.balance.purchased_remaining == 1500 - r.settled);
            CHECK(r.outbox == r.settles);
            CHECK(r.reservations == 0);
            MESSAGE(backend << " loop " << loop << ": requested " << r.requested << ", admitted " << r.settled << " of 1500 in "
                            << r.seconds << " s");
        }
    }
}

TEST_CASE("two processes, 32 threads, one pool, releases interleaved: balance = funded - settled, never negative") {
    for (const auto& backend : backends()) {
        for (int loop = 0; loop < loops(); ++loop) {
            CAPTURE(backend);
            CAPTURE(loop);
            ClientPlan plan;
            plan.ops = 120;  // about 32 × 120 × 3 × 2/3 ≈ 7700 tokens settled if they could: runs dry
            plan.random_sizes = true;
            plan.releases = true;
            auto r = hammer(backend, 3000, 2000, plan, 24h);
            CHECK(r.errors == 0);
            CHECK(r.negative_views == 0);
            CHECK(r.settled <= 5000);
            CHECK(r.refusals > 0);  // the pool ran dry
            const auto& b = r.row.balance;
            CHECK(b.allowance_remaining >= 0);
            CHECK(b.purchased_remaining >= 0);
            CHECK(b.allowance_remaining + b.purchased_remaining == 5000 - r.settled);
            CHECK(r.outbox == r.settles);
            CHECK(r.reservations == 0);
            MESSAGE(backend << " loop " << loop << ": settled " << r.settled << " of 5000, refusals " << r.refusals);
        }
    }
}

TEST_CASE("two processes, 32 threads, one pool, window resets racing: never negative, allowance never above A") {
    for (const auto& backend : backends()) {
        for (int loop = 0; loop < loops(); ++loop) {
            CAPTURE(backend);
            CAPTURE(loop);
            ClientPlan plan;
            plan.ops = 300;
            plan.random_sizes = true;
            plan.releases = true;
            plan.real_time = true;
            constexpr std::int64_t kA = 40;
            constexpr std::int64_t kP = 300;
            auto r = hammer(backend, kA, kP, plan, 5ms);
            CHECK(r.errors == 0);
            CHECK(r.negative_views == 0);
            const auto& b = r.row.balance;
            CHECK(b.allowance_remaining >= 0);
            CHECK(b.allowance_remaining <= kA);
            CHECK(b.purchased_remaining >= 0);
            CHECK(b.purchased_total == kP);
            // Each window lasts at least 5 ms and refills at most A: what was spent is bounded by the
            // purchased tokens plus one allowance per window that could have started.
            const auto windows = static_cast<std::int64_t>(r.seconds / 0.005) + 2;
            CHECK(r.settled <= kP + kA * windows);
            CHECK(kP - b.purchased_remaining <= r.settled);  // p only ever pays for settled tokens
            CHECK(r.outbox == r.settles);
            CHECK(r.reservations == 0);
            MESSAGE(backend << " loop " << loop << ": settled " << r.settled << " in " << r.seconds << " s (" << windows
                            << " windows at most), p left " << b.purchased_remaining);
        }
    }
}

}  // namespace lt::token::test

namespace lt::token::test {
namespace {

asio::awaitable<void> reserve_settle_loop(QuotaLedger* ledger, PoolKey key, int ops, Clock::time_point now,
                                          std::atomic<int>* failures) {
    for (int i = 0; i < ops; ++i) {
        auto reserve = ledger->reserve(key, 1, std::nullopt, now);
        auto r = co_await std::move(reserve);
        if (!r) {
            ++*failures;
            continue;
        }
        auto settle = ledger->settle(std::move(*r), {usage_row(now)}, now);
        if (!co_await std::move(settle)) ++*failures;
    }
}

/// 32 coroutines × `ops` reserve+settle on 2 io threads against `ledgers` (round robin); prints the rate.
void measure_ledgers(const char* label, std::vector<QuotaLedger*> ledgers, std::vector<GroupCommitter*> committers,
                     bool one_pool, int ops) {
    asio::io_context ioc;
    constexpr int kClients = 32;
    std::vector<PoolKey> keys;
    for (int c = 0; c < (one_pool ? 1 : kClients); ++c) {
        keys.push_back(user_key());
        REQUIRE(run(ledgers[0]->set_allowance(keys.back(), 1'000'000'000, std::nullopt, Clock::now())));
    }
    std::atomic<int> failures{0};
    for (int c = 0; c < kClients; ++c) {
        asio::co_spawn(ioc,
                       reserve_settle_loop(ledgers[static_cast<std::size_t>(c) % ledgers.size()],
                                           keys[one_pool ? 0 : static_cast<std::size_t>(c)], ops, Clock::now(), &failures),
                       asio::detached);
    }
    std::uint64_t tx0 = 0;
    for (auto* c : committers) tx0 += c->transactions();
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < 2; ++t) pool.emplace_back([&] { ioc.run(); });
    for (auto& t : pool) t.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::uint64_t tx = 0;
    for (auto* c : committers) tx += c->transactions();
    const double total = static_cast<double>(kClients) * ops;
    CHECK(failures == 0);
    std::printf("%-52s %8.0f requests/s  (%.3f s, %llu transactions)\n", label, total / secs, secs,
                static_cast<unsigned long long>(tx - tx0));
}

}  // namespace

// A measurement, not a test: `token_quota_test -tc="shared ledger throughput*" --no-skip`.
TEST_CASE("shared ledger throughput" * doctest::skip()) {
    for (bool one_pool : {false, true}) {
        const std::string pools = one_pool ? "one pool" : "32 pools";
        {
            TempDir dir;
            QuotaHarness h(dir.path() / "token.db");
            measure_ledgers(("sqlite process mode, " + pools).c_str(), {h.quota.get()}, {h.committer.get()}, one_pool, 2000);
        }
        for (const auto& backend : backends()) {
            const int ops = backend == "sqlite" ? 2000 : 300;
            {
                SharedDatabase where(backend);
                LedgerProcess p(where);
                measure_ledgers((backend + " shared mode, 1 process, " + pools).c_str(), {p.ledger.get()},
                                {p.committer.get()}, one_pool, ops);
            }
            {
                SharedDatabase where(backend);
                LedgerProcess p1(where);
                LedgerProcess p2(where);
                measure_ledgers((backend + " shared mode, 2 processes, " + pools).c_str(),
                                {p1.ledger.get(), p2.ledger.get()}, {p1.committer.get(), p2.committer.get()}, one_pool,
                                ops);
            }
        }
    }
}

}  // namespace lt::token::test

namespace lt::token::test {

TEST_CASE("shared ledger: reserve_up_to takes what is left and settle_partial credits the unspent part back, purchased first") {
    for (const auto& backend : backends()) {
        CAPTURE(backend);
        SharedDatabase where(backend);
        LedgerProcess a(where, options());
        LedgerProcess b(where, options());
        const auto now = Clock::now();
        const auto key = user_key();
        fund(a, key, 10, 5, now);
        auto r = run(a.ledger->reserve_up_to(key, 2, 100, std::nullopt, now));
        REQUIRE(r);
        CHECK(r->tokens() == 15);  // everything: 10 allowance + 5 purchased
        auto none = run(b.ledger->reserve_up_to(key, 1, 5, std::nullopt, now));
        REQUIRE_FALSE(none);
        CHECK(none.error().code == Errc::payment_required);
        REQUIRE(run(a.ledger->settle_partial(std::move(*r), 7, {usage_row(now)}, now)));
        auto seen = view(b, key, now);  // 7 spent from the allowance; the 8 back: 5 purchased, 3 allowance
        CHECK(seen.allowance_remaining == 3);
        CHECK(seen.purchased_remaining == 5);
        CHECK(b.scalar("SELECT COUNT(*) FROM token_reservations") == 0);
        CHECK(b.scalar("SELECT COUNT(*) FROM token_outbox") == 1);
    }
}

}  // namespace lt::token::test
