// The limiter's scripts on a real Redis (LT_TEST_REDIS_URL) through the RedisKeyValueStore: the same
// random operations as the lua5.4 twin test give the same replies and the same stored hash fields as
// the native C++ scripts, and 32 coroutines on one bucket admit exactly its capacity.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "limiter/rate_limiter.hpp"
#include "limiter_script_ops.hpp"
#include "lt/adapters/redis_key_value_store.hpp"
#include "support/redis_server.hpp"
#include "support/run_sync.hpp"

namespace {

namespace asio = boost::asio;
using lt::adapters::RedisKeyValueStore;
using lt::test::run_sync;
using lt::token::BucketParams;
using lt::token::RateLimiter;
using lt::token::Strategy;

/// A RedisKeyValueStore on LT_TEST_REDIS_URL with its own io thread, plus an inspection client.
struct RedisFixture {
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    std::thread thread{[this] { io.run(); }};
    std::unique_ptr<RedisKeyValueStore> store;
    std::unique_ptr<lt::test::RedisClient> client;
    std::string prefix = lt::test::unique_redis_prefix("limiter");

    ~RedisFixture() {
        store.reset();
        work.reset();
        io.stop();
        thread.join();
    }

    /// False (after a visible message) when LT_TEST_REDIS_URL is unset.
    bool open() {
        auto url = lt::test::redis_url_from_env();
        if (!url) {
            MESSAGE("skipped: LT_TEST_REDIS_URL is not set (start a redis-server and export it)");
            return false;
        }
        auto opened = RedisKeyValueStore::open(io.get_executor(), *url, {});
        REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string() : opened.error().message));
        store = std::move(*opened);
        client = lt::test::RedisClient::connect(*url);
        REQUIRE(client != nullptr);
        return true;
    }
};

/// Replies and stored fields of `ops` run on Redis, in run_native's format.
std::vector<std::string> run_redis(RedisFixture& f, const std::vector<lt::token::testing::Operation>& ops) {
    std::vector<std::string> lines;
    for (const auto& op : ops) {
        const std::string key = f.prefix + op.key;
        const std::span<const std::int64_t> args(op.args.data(), op.args.size() - 1);  // the store appends the ttl
        const std::chrono::milliseconds ttl(op.args.back());
        auto reply = run_sync(f.store->atomic_update(key, lt::token::testing::script_of(op.script), args, ttl));
        REQUIRE_MESSAGE(reply.has_value(), (reply ? std::string() : reply.error().message));
        std::ostringstream line;
        for (std::size_t i = 0; i < reply->size(); ++i) line << (i ? " " : "") << (*reply)[i];
        line << " |";
        const std::string fields = f.client->command({"HMGET", key, "f0", "f1", "f2", "f3"});
        if (fields == "(nil) (nil) (nil) (nil)") {
            line << " -";
        } else {
            line << ' ' << fields;
            // A stored key always has a ttl (one of the ops' ttls: a call that did not write kept
            // the previous one).
            const auto pttl = std::stoll(f.client->command({"PTTL", key}));
            CHECK(pttl > 0);
            CHECK(pttl <= 21601000);
        }
        lines.push_back(line.str());
    }
    return lines;
}

/// acquire() `attempts` times on `key` at the frozen time `now` (the last `tail` ask for 1 token);
/// with `refunds`, gives back about a quarter of its admissions at once.
asio::awaitable<void> hammer_one(RateLimiter* limiter, std::string key, BucketParams p, int seed, int attempts,
                                 int tail, bool refunds, std::chrono::system_clock::time_point now,
                                 std::atomic<std::int64_t>* net, std::atomic<int>* errors) {
    std::mt19937 rng(static_cast<std::uint32_t>(seed));
    std::uniform_int_distribution<std::int64_t> size(1, 5);
    for (int i = 0; i < attempts; ++i) {
        const std::int64_t n = i >= attempts - tail ? 1 : size(rng);
        auto acquire = limiter->acquire(key, p, n, now);
        auto d = co_await std::move(acquire);
        if (!d) {
            ++*errors;
            continue;
        }
        if (d->used + d->remaining != p.capacity) ++*errors;
        if (!d->allowed) continue;
        *net += n;
        if (refunds && i < attempts - tail && rng() % 4 == 0) {
            auto refund = limiter->refund(key, p, n, now);
            if (co_await std::move(refund)) {
                *net -= n;
            } else {
                ++*errors;
            }
        }
    }
}

}  // namespace

TEST_CASE("every limiter script on a real redis gives the same replies and fields as its native twin") {
    RedisFixture f;
    if (!f.open()) return;
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        CAPTURE(seed);
        const auto ops = lt::token::testing::random_operations(seed);
        lt::token::testing::Coverage coverage;
        const auto native = lt::token::testing::run_native(ops, coverage);
        CHECK(coverage.allowed > 100);
        CHECK(coverage.denied > 100);
        CHECK(coverage.denied_forever > 10);
        CHECK(coverage.refunds_applied > 100);
        f.prefix = lt::test::unique_redis_prefix("limiter");
        const auto redis = run_redis(f, ops);
        REQUIRE(redis.size() == native.size());
        int mismatches = 0;
        for (std::size_t i = 0; i < native.size() && mismatches < 5; ++i) {
            if (redis[i] != native[i]) {
                ++mismatches;
                CAPTURE(i);
                CAPTURE(ops[i].script);
                CHECK(redis[i] == native[i]);
            }
        }
        CHECK(mismatches == 0);
    }
}

TEST_CASE("32 coroutines on one redis bucket with a frozen clock admit exactly its capacity") {
    RedisFixture f;
    if (!f.open()) return;
    RateLimiter limiter(*f.store);
    constexpr std::int64_t kCapacity = 5000;
    constexpr int kCoroutines = 32;
    constexpr int kAttempts = 300;
    constexpr int kTail = 40;
    for (Strategy strategy : {Strategy::leaky_bucket, Strategy::token_bucket, Strategy::fixed_window}) {
        for (bool refunds : {false, true}) {
            CAPTURE(lt::token::to_string(strategy));
            CAPTURE(refunds);
            const BucketParams p{kCapacity, 10.0, 60, strategy};
            const std::string key = f.prefix + "hot-" + std::string(lt::token::to_string(strategy)) +
                                    (refunds ? "-refunds" : "");
            const auto now = std::chrono::system_clock::now();
            std::atomic<std::int64_t> net{0};
            std::atomic<int> errors{0};
            asio::io_context callers(2);
            std::vector<std::future<void>> done;
            for (int c = 0; c < kCoroutines; ++c) {
                done.push_back(asio::co_spawn(
                    callers, hammer_one(&limiter, key, p, 1000 + c, kAttempts, kTail, refunds, now, &net, &errors),
                    asio::use_future));
            }
            const auto t0 = std::chrono::steady_clock::now();
            std::thread second([&] { callers.run(); });
            callers.run();
            second.join();
            for (auto& d : done) d.get();
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const std::string label = std::string(lt::token::to_string(strategy)) + (refunds ? " with refunds" : "");
            MESSAGE(label << ": "
                                                    << static_cast<std::int64_t>(kCoroutines * kAttempts / seconds)
                                                    << " acquires/s from 32 coroutines on one key");
            REQUIRE(errors.load() == 0);
            auto state = run_sync(limiter.acquire(key, p, 0, now));
            REQUIRE(state.has_value());
            // No update was lost: the bucket holds exactly what was admitted and not refunded.
            CHECK(state->used == net.load());
            CHECK(net.load() <= kCapacity);
            if (!refunds) CHECK(net.load() == kCapacity);
            std::int64_t topped = 0;
            while (run_sync(limiter.acquire(key, p, 1, now)).value().allowed) ++topped;
            CHECK(net.load() + topped == kCapacity);
        }
    }
}
