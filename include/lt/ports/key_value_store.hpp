#pragma once
/// KeyValueStore port: small values with TTL and atomic per-key check-and-update scripts.
/// Adapters: MemoryKeyValueStore (embedded), RedisKeyValueStore (production, Lua via EVALSHA).
///
/// An AtomicScript carries the same algorithm twice: `native` (C++, run by the memory store under the
/// key's lock) and `lua` (run by Redis atomically). The state of a key is four 64-bit integer fields
/// (Redis: hash fields f0..f3), enough for buckets, windows and counters.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "lt/core/result.hpp"

namespace lt::ports {

struct KvState {
    bool exists = false;                   ///< false for a new or expired key (fields are 0)
    std::array<std::int64_t, 4> fields{};  ///< f0..f3
};

struct AtomicScript {
    std::string name;  ///< for logs and metrics
    /// Lua for Redis: KEYS[1] = key, ARGV = args; reads/writes hash fields f0..f3; returns an array
    /// of integers. Must PEXPIRE the key with ARGV[#ARGV] (ttl ms) when it writes.
    std::string lua;
    /// C++ for the memory store: mutates `state` (set exists=true to keep it) and returns the reply.
    std::function<std::vector<std::int64_t>(KvState& state, std::span<const std::int64_t> args)> native;
};

/// Thread-safe. Every store call is awaitable and may be awaited from any coroutine on any executor
/// (I/O threads included): the caller resumes on its own executor. An adapter never blocks the caller's
/// thread on the network; the memory adapter completes at once, without a thread hop. Network adapters
/// answer Errc::unavailable when the store cannot be reached (quickly while it is known down, at the
/// latest after their per-call deadline).
class KeyValueStore {
public:
    virtual ~KeyValueStore() = default;

    /// Runs `script` atomically on `key`. `args` are passed as is; `ttl` (> 0) is how long the key
    /// lives after this write (the memory store applies it itself; it is also appended to the Lua
    /// ARGV). `key`, `script` and the integers behind `args` must stay valid until the call completes.
    /// Reply: the script's integers. invalid_argument when ttl <= 0 or the script lacks the part the
    /// adapter runs, conflict when the key holds a string, internal when the script fails.
    virtual boost::asio::awaitable<Result<std::vector<std::int64_t>>> atomic_update(
        std::string_view key, const AtomicScript& script, std::span<const std::int64_t> args,
        std::chrono::milliseconds ttl) = 0;

    /// Plain string values: the value at `key`, nullopt when missing or expired; conflict when the
    /// key holds script fields. `key` must stay valid until the call completes.
    virtual boost::asio::awaitable<Result<std::optional<std::string>>> get(std::string_view key) = 0;
    /// Stores `value` at `key` (replacing any kind of value). ttl 0 = no expiry, negative =
    /// invalid_argument.
    virtual boost::asio::awaitable<Result<void>> set(std::string_view key, std::string value,
                                                     std::chrono::milliseconds ttl) = 0;
    /// Removes `key`; true when it existed (and had not expired).
    virtual boost::asio::awaitable<Result<bool>> erase(std::string_view key) = 0;
    /// Adds `delta` to an integer value (missing = 0) and returns the new value; sets ttl when the key
    /// is created (ttl 0 = none). invalid_argument when the value is not an integer or would overflow.
    virtual boost::asio::awaitable<Result<std::int64_t>> increment(std::string_view key, std::int64_t delta,
                                                                   std::chrono::milliseconds ttl) = 0;

    /// Drops expired entries now (memory adapter; others expire by themselves and return 0).
    /// Synchronous and short. Any thread.
    virtual std::size_t purge_expired() = 0;

    /// False while the store is known unreachable (readiness reports component `redis` down); true
    /// for embedded stores. Cheap, lock-free; any thread.
    virtual bool available() const { return true; }
};

}  // namespace lt::ports
