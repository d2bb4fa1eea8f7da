#include "contract/key_value_store_contract.hpp"

#include <stdexcept>

#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include "lt/adapters/memory_key_value_store.hpp"
#include "lt/core/clock.hpp"

namespace {

/// A MemoryKeyValueStore on a FakeClock.
struct MemoryKeyValueStoreHarness {
    static constexpr bool kControllableTime = true;

    static std::unique_ptr<MemoryKeyValueStoreHarness> make() {
        return std::make_unique<MemoryKeyValueStoreHarness>();
    }
    lt::ports::KeyValueStore& store() { return store_; }
    std::string key(std::string_view name) { return std::string(name); }
    void advance(std::chrono::milliseconds d) { clock_.advance(d); }

    lt::FakeClock clock_;
    lt::adapters::MemoryKeyValueStore store_{clock_};
};

}  // namespace

TYPE_TO_STRING_AS("memory", MemoryKeyValueStoreHarness);
LT_KEY_VALUE_STORE_CONTRACT(MemoryKeyValueStoreHarness);

namespace {

using lt::adapters::MemoryKeyValueStore;

/// Awaits one call of each kind after posting a marker handler; a store that completed through the
/// executor (a thread hop or a post) would let the marker run first.
boost::asio::awaitable<void> await_inline(MemoryKeyValueStore* store, bool* marker_ran, int* checked) {
    auto ex = co_await boost::asio::this_coro::executor;
    boost::asio::post(ex, [marker_ran] { *marker_ran = true; });
    const auto script = capped_counter_script();
    const std::int64_t args[] = {1, 10};
    auto update = store->atomic_update("inline", script, args, milliseconds(1000));
    const auto updated = co_await std::move(update);
    auto set = store->set("text", "v", milliseconds(0));
    const auto stored = co_await std::move(set);
    auto get = store->get("text");
    const auto read = co_await std::move(get);
    auto increment = store->increment("n", 1, milliseconds(0));
    const auto counted = co_await std::move(increment);
    auto erase = store->erase("n");
    const auto erased = co_await std::move(erase);
    CHECK(updated.has_value());
    CHECK(stored.has_value());
    CHECK(read.value() == std::optional<std::string>("v"));
    CHECK(counted.value() == 1);
    CHECK(erased.value() == true);
    CHECK_FALSE(*marker_ran);
    ++*checked;
}

TEST_CASE("memory key value store completes its awaitable calls inline without a thread hop") {
    lt::FakeClock clock;
    MemoryKeyValueStore store(clock);
    boost::asio::io_context io(1);
    bool marker_ran = false;
    int checked = 0;
    boost::asio::co_spawn(io, await_inline(&store, &marker_ran, &checked), boost::asio::detached);
    io.run();
    CHECK(checked == 1);
    CHECK(marker_ran);
}

TEST_CASE("memory key value store purges exactly the expired keys") {
    lt::FakeClock clock;
    MemoryKeyValueStore store(clock, 4);
    REQUIRE(run_sync(store.set("short", "a", milliseconds(100))).has_value());
    REQUIRE(run_sync(store.set("long", "b", milliseconds(10000))).has_value());
    REQUIRE(run_sync(store.set("forever", "c", milliseconds(0))).has_value());
    add_capped(store, "bucket", 1, 10, milliseconds(100));
    CHECK(store.purge_expired() == 0);
    clock.advance(milliseconds(101));
    CHECK(store.size() == 4);
    CHECK(store.purge_expired() == 2);
    CHECK(store.size() == 2);
    CHECK(run_sync(store.get("long")).value() == std::optional<std::string>("b"));
    CHECK(run_sync(store.get("forever")).value() == std::optional<std::string>("c"));
}

TEST_CASE("memory key value store refuses a script call without a positive ttl") {
    lt::FakeClock clock;
    MemoryKeyValueStore store(clock);
    const auto script = capped_counter_script();
    const std::int64_t args[] = {1, 10};
    auto reply = run_sync(store.atomic_update("k", script, args, milliseconds(0)));
    REQUIRE_FALSE(reply.has_value());
    CHECK(reply.error().code == lt::Errc::invalid_argument);
    CHECK(store.size() == 0);
}

TEST_CASE("memory key value store removes a key whose script clears it") {
    lt::FakeClock clock;
    MemoryKeyValueStore store(clock);
    lt::ports::AtomicScript toggle;
    toggle.name = "toggle";
    toggle.native = [](lt::ports::KvState& state, std::span<const std::int64_t>) {
        state.exists = !state.exists;
        state.fields[0] = 7;
        return std::vector<std::int64_t>{state.exists ? 1 : 0};
    };
    CHECK(run_sync(store.atomic_update("k", toggle, {}, milliseconds(1000))).value() == Reply{1});
    CHECK(store.size() == 1);
    CHECK(run_sync(store.atomic_update("k", toggle, {}, milliseconds(1000))).value() == Reply{0});
    CHECK(store.size() == 0);
}

TEST_CASE("memory key value store reports a throwing script as an internal error and keeps the state") {
    lt::FakeClock clock;
    MemoryKeyValueStore store(clock);
    add_capped(store, "k", 4, 10);
    lt::ports::AtomicScript broken;
    broken.name = "broken";
    broken.native = [](lt::ports::KvState& state, std::span<const std::int64_t>) -> std::vector<std::int64_t> {
        state.fields[0] = 999;
        throw std::runtime_error("boom");
    };
    auto reply = run_sync(store.atomic_update("k", broken, {}, milliseconds(1000)));
    REQUIRE_FALSE(reply.has_value());
    CHECK(reply.error().code == lt::Errc::internal);
    CHECK(add_capped(store, "k", 0, 10)[1] == 4);
}

TEST_CASE("memory key value store refuses an increment that would overflow") {
    lt::FakeClock clock;
    MemoryKeyValueStore store(clock);
    REQUIRE(run_sync(store.set("big", "9223372036854775807", milliseconds(0))).has_value());
    auto result = run_sync(store.increment("big", 1, milliseconds(0)));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == lt::Errc::invalid_argument);
    CHECK(run_sync(store.increment("big", -7, milliseconds(0))).value() == 9223372036854775800);
}

TEST_CASE("memory key value store keeps counters exact with many threads on many keys and one shard") {
    lt::FakeClock clock;
    for (std::size_t shards : {std::size_t{1}, std::size_t{64}}) {
        MemoryKeyValueStore store(clock, shards);
        constexpr int kThreads = 8;
        constexpr int kKeys = 100;
        constexpr int kRounds = 50;
        const auto script = capped_counter_script();
        std::atomic<int> errors{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&] {
                const std::int64_t args[] = {1, 1000000};
                for (int r = 0; r < kRounds; ++r) {
                    for (int k = 0; k < kKeys; ++k) {
                        const std::string key = "key-with-a-name-longer-than-sso-" + std::to_string(k);
                        if (!run_sync(store.atomic_update(key, script, args, milliseconds(60000)))) ++errors;
                    }
                }
            });
        }
        for (auto& thread : threads) thread.join();
        CHECK(errors.load() == 0);
        CHECK(store.size() == kKeys);
        for (int k = 0; k < kKeys; ++k) {
            CHECK(add_capped(store, "key-with-a-name-longer-than-sso-" + std::to_string(k), 0, 1000000)[1] ==
                  kThreads * kRounds);
        }
    }
}

}  // namespace
