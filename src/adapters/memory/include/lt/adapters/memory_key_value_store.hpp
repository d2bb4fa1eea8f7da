#pragma once
/// MemoryKeyValueStore: the embedded KeyValueStore adapter (and the fake used by tests).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "lt/core/clock.hpp"
#include "lt/ports/key_value_store.hpp"

namespace lt::adapters {

/// In-process key-value store: keys are spread over shards, each a mutex plus a hash map, so threads
/// working on different keys rarely contend. A key holds either a string (get/set/increment) or the
/// four integer fields of an AtomicScript; using it as the other kind fails with Errc::conflict, as
/// Redis answers WRONGTYPE. Expiry follows `Clock::steady_now()`: an expired key reads as missing at
/// once and its memory is reclaimed when it is next touched or by purge_expired().
/// Thread-safe: any thread may call any member, I/O threads included (calls never block on I/O). The
/// awaitable calls run to completion inside the first resumption, on the caller's thread: no thread
/// hop, no timer, no allocation beyond the coroutine frame.
class MemoryKeyValueStore final : public ports::KeyValueStore {
public:
    /// Shard count used when none is given.
    static constexpr std::size_t kDefaultShards = 64;

    /// `clock` must outlive the store; `shard_count` 0 is treated as 1. Any thread.
    explicit MemoryKeyValueStore(Clock& clock, std::size_t shard_count = kDefaultShards);
    /// Not copyable or movable (shards hold mutexes).
    MemoryKeyValueStore(const MemoryKeyValueStore&) = delete;
    MemoryKeyValueStore& operator=(const MemoryKeyValueStore&) = delete;
    ~MemoryKeyValueStore() override;

    /// Runs `script.native` under the key's shard lock on the key's fields (zero and exists=false
    /// when the key is new or expired). When the script leaves exists=true the fields are stored and
    /// the key expires `ttl` after now; when it leaves exists=false the key is removed. Fails with
    /// invalid_argument when ttl <= 0 or the script has no native part, conflict when the key holds a
    /// string, internal when the script throws. Any thread.
    boost::asio::awaitable<Result<std::vector<std::int64_t>>> atomic_update(std::string_view key,
                                                                            const ports::AtomicScript& script,
                                                                            std::span<const std::int64_t> args,
                                                                            std::chrono::milliseconds ttl) override;

    /// The string at `key`, nullopt when missing or expired; conflict when the key holds fields. Any
    /// thread.
    boost::asio::awaitable<Result<std::optional<std::string>>> get(std::string_view key) override;
    /// Stores `value` at `key` (replacing any kind of value); ttl 0 = no expiry, negative =
    /// invalid_argument. Any thread.
    boost::asio::awaitable<Result<void>> set(std::string_view key, std::string value,
                                             std::chrono::milliseconds ttl) override;
    /// Removes `key`; true when it existed and had not expired. Any thread.
    boost::asio::awaitable<Result<bool>> erase(std::string_view key) override;
    /// Adds `delta` to the decimal integer stored at `key` (missing = 0), stores it back as text and
    /// returns it; the ttl is set only when the key is created (0 = none). invalid_argument when the
    /// value is not an integer or the sum overflows, conflict when the key holds fields. Any thread.
    boost::asio::awaitable<Result<std::int64_t>> increment(std::string_view key, std::int64_t delta,
                                                           std::chrono::milliseconds ttl) override;

    /// Removes every expired key now and returns how many were removed. Locks one shard at a time.
    /// Any thread.
    std::size_t purge_expired() override;

    /// Number of stored keys, including expired ones not yet purged. Any thread.
    std::size_t size() const;

private:
    struct Shard;

    Shard& shard_for(std::string_view key) const;
    // The synchronous bodies of the awaitable calls above.
    Result<std::vector<std::int64_t>> update_now(std::string_view key, const ports::AtomicScript& script,
                                                 std::span<const std::int64_t> args, std::chrono::milliseconds ttl);
    Result<std::optional<std::string>> get_now(std::string_view key);
    Result<void> set_now(std::string_view key, std::string value, std::chrono::milliseconds ttl);
    Result<bool> erase_now(std::string_view key);
    Result<std::int64_t> increment_now(std::string_view key, std::int64_t delta, std::chrono::milliseconds ttl);

    Clock& clock_;
    std::size_t shard_count_;
    std::unique_ptr<Shard[]> shards_;
};

}  // namespace lt::adapters
