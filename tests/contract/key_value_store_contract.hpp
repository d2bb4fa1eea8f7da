#pragma once
/// KeyValueStore contract suite, run unchanged against every adapter.
///
/// Use from exactly one .cpp of a test executable:
///
///     struct MemoryHarness { ... };                 // satisfies KeyValueStoreHarness below
///     TYPE_TO_STRING_AS("memory", MemoryHarness);   // the suffix of the case names: "...<memory>"
///     LT_KEY_VALUE_STORE_CONTRACT(MemoryHarness);
///
/// A harness gives each case a fresh store. Cases that need to move time forward run only when
/// `kControllableTime` is true (memory + FakeClock); real-time adapters (Redis) skip them with a
/// message. All keys go through `key(name)` so that a shared server can namespace them. The port's calls
/// are awaitable; plain threads await them with lt::test::run_sync.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <concepts>
#include <future>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "lt/ports/key_value_store.hpp"
#include "support/run_sync.hpp"

namespace lt::contract {

/// What a KeyValueStore adapter's test harness provides.
template <class H>
concept KeyValueStoreHarness = requires(H& h, std::string_view name) {
    /// A harness with an empty store, or null when the backend is not available (cases then skip).
    { H::make() } -> std::same_as<std::unique_ptr<H>>;
    /// The store under test.
    { h.store() } -> std::same_as<ports::KeyValueStore&>;
    /// The backend key for a test-local name (unique per harness on shared servers).
    { h.key(name) } -> std::convertible_to<std::string>;
    /// True when `h.advance(std::chrono::milliseconds)` moves the store's time forward.
    { H::kControllableTime } -> std::convertible_to<bool>;
};

/// Test script "capped_counter": args {n, limit}; adds n to f0 when f0 + n <= limit. Replies
/// {admitted 0|1, f0 total, f1 admitted calls, f2 refused calls}; always writes (so the ttl is renewed
/// on every call). f3 is unused and stays 0.
inline ports::AtomicScript capped_counter_script() {
    ports::AtomicScript script;
    script.name = "capped_counter";
    script.lua = R"lua(
local key = KEYS[1]
local n = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local ttl = tonumber(ARGV[#ARGV])
local f = redis.call('HMGET', key, 'f0', 'f1', 'f2', 'f3')
local total = tonumber(f[1] or '0')
local admitted_calls = tonumber(f[2] or '0')
local refused_calls = tonumber(f[3] or '0')
local admitted = 0
if total + n <= limit then
  total = total + n
  admitted_calls = admitted_calls + 1
  admitted = 1
else
  refused_calls = refused_calls + 1
end
redis.call('HSET', key, 'f0', total, 'f1', admitted_calls, 'f2', refused_calls, 'f3', tonumber(f[4] or '0'))
redis.call('PEXPIRE', key, ttl)
return {admitted, total, admitted_calls, refused_calls}
)lua";
    script.native = [](ports::KvState& state, std::span<const std::int64_t> args) {
        const std::int64_t n = args[0];
        const std::int64_t limit = args[1];
        std::int64_t admitted = 0;
        if (state.fields[0] + n <= limit) {
            state.fields[0] += n;
            ++state.fields[1];
            admitted = 1;
        } else {
            ++state.fields[2];
        }
        state.exists = true;
        return std::vector<std::int64_t>{admitted, state.fields[0], state.fields[1], state.fields[2]};
    };
    return script;
}

/// A fresh harness, or null after printing why the cases of this adapter are skipped.
template <KeyValueStoreHarness H>
std::unique_ptr<H> make_kv_harness() {
    auto harness = H::make();
    if (!harness) {
        MESSAGE("skipped: the key value store backend is not available");
    }
    return harness;
}

/// One capped_counter call; fails the case when the store returns an error.
using lt::test::run_sync;

inline std::vector<std::int64_t> add_capped(ports::KeyValueStore& store, const std::string& key, std::int64_t n,
                                            std::int64_t limit,
                                            std::chrono::milliseconds ttl = std::chrono::minutes(10)) {
    static const ports::AtomicScript script = capped_counter_script();
    const std::int64_t args[] = {n, limit};
    auto reply = run_sync(store.atomic_update(key, script, args, ttl));
    REQUIRE_MESSAGE(reply.has_value(), (reply ? std::string() : reply.error().message));
    REQUIRE(reply->size() == 4);
    return *reply;
}

using Reply = std::vector<std::int64_t>;

}  // namespace lt::contract

// The cases live at global scope, where LT_KEY_VALUE_STORE_CONTRACT instantiates them.
using lt::test::run_sync;
using lt::contract::add_capped;
using lt::contract::capped_counter_script;
using lt::contract::make_kv_harness;
using lt::contract::Reply;
using std::chrono::milliseconds;

TEST_CASE_TEMPLATE_DEFINE("key value store returns the value that was set", H, lt_kv_set_get) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    auto& store = h->store();
    const std::string key = h->key("greeting");
    CHECK(run_sync(store.get(key)).value() == std::nullopt);
    REQUIRE(run_sync(store.set(key, "hello", milliseconds(0))).has_value());
    CHECK(run_sync(store.get(key)).value() == std::optional<std::string>("hello"));
    REQUIRE(run_sync(store.set(key, "bye", milliseconds(60000))).has_value());
    CHECK(run_sync(store.get(key)).value() == std::optional<std::string>("bye"));
    CHECK(run_sync(store.get(h->key("other"))).value() == std::nullopt);
}

TEST_CASE_TEMPLATE_DEFINE("key value store erase reports whether the key existed", H, lt_kv_erase) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    auto& store = h->store();
    const std::string key = h->key("doomed");
    CHECK(run_sync(store.erase(key)).value() == false);
    REQUIRE(run_sync(store.set(key, "x", milliseconds(0))).has_value());
    CHECK(run_sync(store.erase(key)).value() == true);
    CHECK(run_sync(store.get(key)).value() == std::nullopt);
    CHECK(run_sync(store.erase(key)).value() == false);
}

TEST_CASE_TEMPLATE_DEFINE("key value store increment starts from zero and adds", H, lt_kv_increment) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    auto& store = h->store();
    const std::string key = h->key("counter");
    CHECK(run_sync(store.increment(key, 5, milliseconds(0))).value() == 5);
    CHECK(run_sync(store.increment(key, -2, milliseconds(0))).value() == 3);
    CHECK(run_sync(store.get(key)).value() == std::optional<std::string>("3"));
    REQUIRE(run_sync(store.set(key, "40", milliseconds(0))).has_value());
    CHECK(run_sync(store.increment(key, 2, milliseconds(0))).value() == 42);
}

TEST_CASE_TEMPLATE_DEFINE("key value store refuses to increment a value that is not an integer", H,
                          lt_kv_increment_text) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    auto& store = h->store();
    const std::string key = h->key("text");
    REQUIRE(run_sync(store.set(key, "abc", milliseconds(0))).has_value());
    CHECK_FALSE(run_sync(store.increment(key, 1, milliseconds(0))).has_value());
    CHECK(run_sync(store.get(key)).value() == std::optional<std::string>("abc"));
}

TEST_CASE_TEMPLATE_DEFINE("key value store increments concurrently without losing updates", H,
                          lt_kv_increment_threads) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    auto& store = h->store();
    const std::string key = h->key("shared");
    constexpr int kThreads = 16;
    constexpr int kEach = 500;
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kEach; ++i) {
                if (!run_sync(store.increment(key, 1, milliseconds(0)))) ++errors;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    CHECK(errors.load() == 0);
    CHECK(run_sync(store.get(key)).value() == std::optional<std::string>(std::to_string(kThreads * kEach)));
}

TEST_CASE_TEMPLATE_DEFINE("key value store forgets a value once its ttl has passed", H, lt_kv_ttl) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    if constexpr (!H::kControllableTime) {
        MESSAGE("skipped: needs controllable time");
    } else {
        auto& store = h->store();
        const std::string key = h->key("session");
        const std::string forever = h->key("forever");
        REQUIRE(run_sync(store.set(key, "v", milliseconds(1000))).has_value());
        REQUIRE(run_sync(store.set(forever, "w", milliseconds(0))).has_value());
        h->advance(milliseconds(999));
        CHECK(run_sync(store.get(key)).value() == std::optional<std::string>("v"));
        h->advance(milliseconds(2));
        CHECK(run_sync(store.get(key)).value() == std::nullopt);
        CHECK(run_sync(store.erase(key)).value() == false);
        h->advance(std::chrono::hours(24));
        CHECK(run_sync(store.get(forever)).value() == std::optional<std::string>("w"));
    }
}

TEST_CASE_TEMPLATE_DEFINE("key value store increment sets the ttl only when it creates the key", H,
                          lt_kv_increment_ttl) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    if constexpr (!H::kControllableTime) {
        MESSAGE("skipped: needs controllable time");
    } else {
        auto& store = h->store();
        const std::string key = h->key("window");
        CHECK(run_sync(store.increment(key, 1, milliseconds(1000))).value() == 1);
        h->advance(milliseconds(600));
        CHECK(run_sync(store.increment(key, 1, milliseconds(1000))).value() == 2);
        h->advance(milliseconds(600));
        CHECK(run_sync(store.get(key)).value() == std::nullopt);
        CHECK(run_sync(store.increment(key, 1, milliseconds(1000))).value() == 1);
    }
}

TEST_CASE_TEMPLATE_DEFINE("atomic update keeps the script state between calls", H, lt_kv_script_state) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    auto& store = h->store();
    const std::string key = h->key("bucket");
    CHECK(add_capped(store, key, 3, 10) == Reply{1, 3, 1, 0});
    CHECK(add_capped(store, key, 4, 10) == Reply{1, 7, 2, 0});
    CHECK(add_capped(store, key, 4, 10) == Reply{0, 7, 2, 1});
    CHECK(add_capped(store, key, 3, 10) == Reply{1, 10, 3, 1});
    CHECK(add_capped(store, key, 1, 10) == Reply{0, 10, 3, 2});
}

TEST_CASE_TEMPLATE_DEFINE("atomic update keeps keys apart", H, lt_kv_script_keys) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    auto& store = h->store();
    const std::string a = h->key("bucket-a");
    const std::string b = h->key("bucket-b");
    CHECK(add_capped(store, a, 5, 10) == Reply{1, 5, 1, 0});
    CHECK(add_capped(store, b, 2, 10) == Reply{1, 2, 1, 0});
    CHECK(add_capped(store, a, 5, 10) == Reply{1, 10, 2, 0});
    CHECK(add_capped(store, b, 0, 10) == Reply{1, 2, 2, 0});
}

TEST_CASE_TEMPLATE_DEFINE("atomic update restarts an expired key from zero", H, lt_kv_script_expiry) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    if constexpr (!H::kControllableTime) {
        MESSAGE("skipped: needs controllable time");
    } else {
        auto& store = h->store();
        const std::string key = h->key("bucket");
        CHECK(add_capped(store, key, 5, 10, milliseconds(1000)) == Reply{1, 5, 1, 0});
        h->advance(milliseconds(800));
        // Every write renews the ttl.
        CHECK(add_capped(store, key, 1, 10, milliseconds(1000)) == Reply{1, 6, 2, 0});
        h->advance(milliseconds(800));
        CHECK(add_capped(store, key, 1, 10, milliseconds(1000)) == Reply{1, 7, 3, 0});
        h->advance(milliseconds(1001));
        CHECK(add_capped(store, key, 1, 10, milliseconds(1000)) == Reply{1, 1, 1, 0});
    }
}

TEST_CASE_TEMPLATE_DEFINE("atomic update never admits more than the limit when 32 threads share one key", H,
                          lt_kv_script_threads) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    auto& store = h->store();
    const std::string key = h->key("hot");
    const lt::ports::AtomicScript script = capped_counter_script();
    constexpr int kThreads = 32;
    constexpr int kAttempts = 1000;
    constexpr std::int64_t kLimit = 5000;
    std::atomic<std::int64_t> admitted_sum{0};
    std::atomic<std::int64_t> admitted_calls{0};
    std::atomic<std::int64_t> refused_calls{0};
    std::atomic<int> errors{0};
    std::atomic<bool> over_limit_seen{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kAttempts; ++i) {
                const std::int64_t args[] = {1 + (t + i) % 3, kLimit};
                auto reply = run_sync(store.atomic_update(key, script, args, std::chrono::minutes(10)));
                if (!reply || reply->size() != 4) {
                    ++errors;
                    continue;
                }
                if ((*reply)[1] > kLimit) over_limit_seen = true;
                if ((*reply)[0] == 1) {
                    admitted_sum += args[0];
                    ++admitted_calls;
                } else {
                    ++refused_calls;
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    REQUIRE(errors.load() == 0);
    CHECK_FALSE(over_limit_seen.load());
    // n = 0 is always admitted and reads the final state.
    const Reply final_state = add_capped(store, key, 0, kLimit);
    CHECK(final_state[1] == admitted_sum.load());
    // Refusals start only within 2 of the limit and thousands of n = 1 attempts follow.
    CHECK(final_state[1] == kLimit);
    CHECK(final_state[2] == admitted_calls.load() + 1);
    CHECK(final_state[3] == refused_calls.load());
    CHECK(admitted_calls.load() + refused_calls.load() == kThreads * kAttempts);
}

namespace lt::contract {

/// Totals of the coroutine hammer below.
struct HammerTotals {
    std::atomic<std::int64_t> admitted_sum{0};
    std::atomic<std::int64_t> admitted_calls{0};
    std::atomic<std::int64_t> refused_calls{0};
    std::atomic<int> errors{0};
};

/// One coroutine of the hammer: `attempts` capped_counter calls on `key` (n = 1 + (t + i) % 3).
inline boost::asio::awaitable<void> hammer_one(ports::KeyValueStore* store, std::string key,
                                               const ports::AtomicScript* script, int t, int attempts,
                                               std::int64_t limit, HammerTotals* totals) {
    for (int i = 0; i < attempts; ++i) {
        const std::int64_t args[] = {1 + (t + i) % 3, limit};
        auto op = store->atomic_update(key, *script, args, std::chrono::minutes(10));
        auto reply = co_await std::move(op);
        if (!reply || reply->size() != 4 || (*reply)[1] > limit) {
            ++totals->errors;
            continue;
        }
        if ((*reply)[0] == 1) {
            totals->admitted_sum += args[0];
            ++totals->admitted_calls;
        } else {
            ++totals->refused_calls;
        }
    }
}

}  // namespace lt::contract

TEST_CASE_TEMPLATE_DEFINE("atomic update never admits more than the limit when 32 coroutines on two threads share one key",
                          H, lt_kv_script_coroutines) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    auto& store = h->store();
    const std::string key = h->key("hot-coroutines");
    const lt::ports::AtomicScript script = capped_counter_script();
    constexpr int kCoroutines = 32;
    constexpr int kAttempts = 500;
    constexpr std::int64_t kLimit = 20000;
    lt::contract::HammerTotals totals;
    boost::asio::io_context io(2);
    std::vector<std::future<void>> done;
    for (int t = 0; t < kCoroutines; ++t) {
        done.push_back(boost::asio::co_spawn(
            io, lt::contract::hammer_one(&store, key, &script, t, kAttempts, kLimit, &totals), boost::asio::use_future));
    }
    std::thread second([&] { io.run(); });
    io.run();
    second.join();
    for (auto& d : done) d.get();
    REQUIRE(totals.errors.load() == 0);
    const Reply final_state = add_capped(store, key, 0, kLimit);
    // 32 * 500 calls of 2 tokens on average: the limit is reached and held exactly.
    CHECK(final_state[1] == totals.admitted_sum.load());
    CHECK(final_state[1] == kLimit);
    CHECK(final_state[2] == totals.admitted_calls.load() + 1);
    CHECK(final_state[3] == totals.refused_calls.load());
    CHECK(totals.admitted_calls.load() + totals.refused_calls.load() == kCoroutines * kAttempts);
}

TEST_CASE_TEMPLATE_DEFINE("a key holds either a string or script fields, not both", H, lt_kv_kinds) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    auto& store = h->store();
    const std::string text = h->key("text");
    const std::string fields = h->key("fields");
    const lt::ports::AtomicScript script = capped_counter_script();
    const std::int64_t args[] = {1, 10};
    REQUIRE(run_sync(store.set(text, "plain", milliseconds(0))).has_value());
    CHECK_FALSE(run_sync(store.atomic_update(text, script, args, milliseconds(60000))).has_value());
    CHECK(run_sync(store.get(text)).value() == std::optional<std::string>("plain"));
    add_capped(store, fields, 1, 10);
    CHECK_FALSE(run_sync(store.get(fields)).has_value());
    CHECK_FALSE(run_sync(store.increment(fields, 1, milliseconds(0))).has_value());
    CHECK(run_sync(store.erase(fields)).value() == true);
}

TEST_CASE_TEMPLATE_DEFINE("purging expired keys leaves live keys readable", H, lt_kv_purge) {
    auto h = make_kv_harness<H>();
    if (!h) return;
    auto& store = h->store();
    const std::string live = h->key("live");
    REQUIRE(run_sync(store.set(live, "still here", milliseconds(60000))).has_value());
    add_capped(store, h->key("bucket"), 2, 10);
    store.purge_expired();
    CHECK(run_sync(store.get(live)).value() == std::optional<std::string>("still here"));
    CHECK(add_capped(store, h->key("bucket"), 0, 10)[1] == 2);
}

/// Instantiates every case above for `Harness`; once per test executable.
#define LT_KEY_VALUE_STORE_CONTRACT(Harness)                                       \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_set_get, Harness);                             \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_erase, Harness);                               \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_increment, Harness);                           \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_increment_text, Harness);                      \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_increment_threads, Harness);                   \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_ttl, Harness);                                 \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_increment_ttl, Harness);                       \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_script_state, Harness);                        \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_script_keys, Harness);                         \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_script_expiry, Harness);                       \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_script_threads, Harness);                      \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_script_coroutines, Harness);                   \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_kinds, Harness);                               \
    TEST_CASE_TEMPLATE_INVOKE(lt_kv_purge, Harness);                               \
    static_assert(::lt::contract::KeyValueStoreHarness<Harness>, "not a KeyValueStoreHarness")
