// The concurrency properties of the quota layer (ARCHITECTURE guarantees 1 and 2): many threads on one
// pool never admit more than it holds, never drive it negative, and the stored row and the outbox
// match the settled tokens exactly. Plus a settle throughput measurement (skipped by default).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <random>
#include <thread>
#include <vector>

#include <boost/asio/detached.hpp>

#include "quota_harness.hpp"

namespace lt::token::test {
namespace {

using namespace std::chrono_literals;

struct HammerStats {
    std::atomic<std::int64_t> settled_tokens{0};
    std::atomic<std::int64_t> settles{0};
    std::atomic<std::int64_t> releases{0};
    std::atomic<std::int64_t> refusals{0};
    std::atomic<std::int64_t> errors{0};
    std::atomic<std::int64_t> negative_views{0};
};

/// One client: reserve 1..5 tokens, then settle (2 in 3) or release, `ops` times; now and then reads
/// the pool and checks that nothing is negative.
asio::awaitable<void> client(QuotaService* quota, PoolKey key, unsigned seed, int ops,
                             std::chrono::system_clock::time_point now, HammerStats* stats) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::int64_t> tokens(1, 5);
    for (int i = 0; i < ops; ++i) {
        const std::int64_t n = tokens(rng);
        auto reserve = quota->reserve(key, n, std::nullopt, now);
        auto r = co_await std::move(reserve);
        if (!r) {
            (r.error().code == Errc::payment_required ? stats->refusals : stats->errors)++;
            continue;
        }
        if (rng() % 3 == 0) {
            quota->release(std::move(*r));
            stats->releases++;
        } else {
            std::vector<OutboxRow> rows{usage_row(now)};
            auto settle = quota->settle(std::move(*r), std::move(rows), now);
            auto s = co_await std::move(settle);
            if (s) {
                stats->settled_tokens += n;
                stats->settles++;
            } else {
                stats->errors++;
            }
        }
        if (i % 16 == 0) {
            auto get = quota->get(key, std::nullopt, now);
            auto v = co_await std::move(get);
            if (!v || !*v) {
                stats->errors++;
            } else if ((*v)->allowance_remaining < 0 || (*v)->purchased_remaining < 0 || (*v)->pending < 0 ||
                       (*v)->remaining() - (*v)->pending < 0) {
                stats->negative_views++;
            }
        }
    }
}

/// Funds a pool with A = 3000 and P = 2000 (F = 5000), hammers it with 32 clients, checks the totals.
void hammer_and_check(OwnerType type, bool thread_per_client) {
    constexpr int kClients = 32;
    // The io_contexts outlive the harness: its threads post completions to them.
    std::deque<asio::io_context> contexts(thread_per_client ? kClients : 1);
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    const PoolKey key{type, new_uuid(), "openai"};
    constexpr std::int64_t kAllowance = 3000;
    constexpr std::int64_t kPurchased = 2000;
    constexpr std::int64_t kFunds = kAllowance + kPurchased;
    constexpr int kOps = 120;  // ~32 × 120 × 3 × 2/3 ≈ 7700 tokens wanted: the pool runs dry
    REQUIRE(run(h.quota->set_allowance(key, kAllowance, std::nullopt, h.clock.now())));
    REQUIRE(run(h.quota->credit_purchase(key, kPurchased, h.clock.now())));
    const auto items_before = h.committer->items();
    const auto transactions_before = h.committer->transactions();
    const auto now = h.clock.now();

    HammerStats stats;
    std::random_device rd;
    const unsigned base_seed = rd();
    if (thread_per_client) {
        std::vector<std::thread> threads;
        for (int c = 0; c < kClients; ++c) {
            threads.emplace_back([&, c] {
                auto& ioc = contexts[static_cast<std::size_t>(c)];
                asio::co_spawn(ioc, client(h.quota.get(), key, base_seed + c, kOps, now, &stats), asio::detached);
                ioc.run();
            });
        }
        for (auto& t : threads) t.join();
    } else {
        auto& ioc = contexts.front();
        for (int c = 0; c < kClients; ++c) {
            asio::co_spawn(ioc, client(h.quota.get(), key, base_seed + c, kOps, now, &stats), asio::detached);
        }
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) threads.emplace_back([&] { ioc.run(); });
        for (auto& t : threads) t.join();
    }

    INFO("seed " << base_seed);
    const std::int64_t settled = stats.settled_tokens.load();
    CHECK(stats.errors == 0);
    CHECK(stats.negative_views == 0);
    CHECK(settled > 0);
    CHECK(settled <= kFunds);  // zero over-admission
    CHECK(stats.refusals > 0);  // the pool did run dry

    auto row = h.stored(key);
    REQUIRE(row);
    const auto& b = row->balance;
    CHECK(b.allowance_remaining >= 0);
    CHECK(b.purchased_remaining >= 0);
    CHECK(b.allowance_remaining + b.purchased_remaining == kFunds - settled);  // no double spend, no loss
    CHECK(b.allowance_remaining == kAllowance - std::min(settled, kAllowance));  // allowance first
    CHECK(b.purchased_remaining == kPurchased - std::max<std::int64_t>(0, settled - kAllowance));
    CHECK(b.purchased_total == kPurchased);
    CHECK(h.outbox_rows() == stats.settles.load());  // one event per settle, none for a release

    auto v = run(h.quota->get(key, std::nullopt, h.clock.now()));
    REQUIRE(v);
    REQUIRE(*v);
    CHECK((*v)->pending == 0);
    CHECK((*v)->allowance_remaining == b.allowance_remaining);
    CHECK((*v)->purchased_remaining == b.purchased_remaining);

    const auto items = h.committer->items() - items_before;
    const auto transactions = h.committer->transactions() - transactions_before;
    CHECK(items == static_cast<std::uint64_t>(stats.settles.load()));
    CHECK(transactions < items);  // group commit did batch
    MESSAGE("settles " << stats.settles.load() << " tokens " << settled << " of " << kFunds << ", releases "
                       << stats.releases.load() << ", refusals " << stats.refusals.load() << ", transactions "
                       << transactions << " for " << items << " units");
}

}  // namespace

TEST_CASE("32 threads hammering one user pool never admit more than it holds and the row matches exactly") {
    hammer_and_check(OwnerType::user, true);
}

TEST_CASE("32 coroutines on 4 threads hammering one org pool never admit more than it holds") {
    hammer_and_check(OwnerType::org, false);
}

TEST_CASE("32 threads hammering one org pool never admit more than it holds") {
    hammer_and_check(OwnerType::org, true);
}

namespace {

asio::awaitable<void> settle_loop(QuotaService* quota, PoolKey key, int ops, std::chrono::system_clock::time_point now,
                                  std::atomic<int>* failures) {
    for (int i = 0; i < ops; ++i) {
        auto reserve = quota->reserve(key, 1, std::nullopt, now);
        auto r = co_await std::move(reserve);
        if (!r) {
            ++*failures;
            continue;
        }
        std::vector<OutboxRow> rows{usage_row(now)};
        auto settle = quota->settle(std::move(*r), std::move(rows), now);
        if (!co_await std::move(settle)) ++*failures;
    }
}

/// 32 coroutines × `ops` settles on an io_context with `threads` threads; prints settles per second.
void measure(const char* label, bool distinct_pools, std::size_t max_batch, int ops, int threads) {
    asio::io_context ioc;  // outlives the harness, whose threads post to it
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"), {}, max_batch);
    constexpr int kClients = 32;
    std::vector<PoolKey> keys;
    for (int c = 0; c < (distinct_pools ? kClients : 1); ++c) {
        keys.push_back(user_key());
        REQUIRE(run(h.quota->set_allowance(keys.back(), 1'000'000'000, std::nullopt, h.clock.now())));
    }
    std::atomic<int> failures{0};
    for (int c = 0; c < kClients; ++c) {
        asio::co_spawn(ioc, settle_loop(h.quota.get(), keys[distinct_pools ? c : 0], ops, h.clock.now(), &failures),
                       asio::detached);
    }
    const auto tx0 = h.committer->transactions();
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back([&] { ioc.run(); });
    for (auto& t : pool) t.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double total = static_cast<double>(kClients) * ops;
    const auto tx = h.committer->transactions() - tx0;
    CHECK(failures == 0);
    std::printf("%-44s %8.0f settles/s  (%d settles in %.3f s, %llu transactions, %.1f units/txn)\n", label,
                total / secs, static_cast<int>(total), secs, static_cast<unsigned long long>(tx),
                total / static_cast<double>(tx));
}

}  // namespace

// A measurement, not a test: run with `token_quota_test -tc="settle throughput*" --no-skip`.
TEST_CASE("settle throughput" * doctest::skip()) {
    measure("distinct pools, 2 io threads, batch 256", true, 256, 2000, 2);
    measure("one pool, 2 io threads, batch 256", false, 256, 2000, 2);
    measure("distinct pools, 1 io thread, batch 256", true, 256, 2000, 1);
    measure("one pool, 1 io thread, batch 256", false, 256, 2000, 1);
    measure("distinct pools, 2 io threads, batch 1 (no group commit)", true, 1, 500, 2);
}

}  // namespace lt::token::test
