#pragma once
/// KeyValueStore port: small values with TTL and atomic per-key check-and-update scripts.
/// Adapters: MemoryKeyValueStore (embedded), RedisKeyValueStore (production, Lua via EVALSHA).
///
/// An AtomicScript carries the same algorithm twice: `native` (C++, run by the memory store under the
/// key's lock) and `lua` (run by Redis atomically). The state of a key is four 64-bit integer fields
/// (Redis: hash fields f0..f3), enough for buckets, windows and counters.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

/// Thread-safe; calls are short and may run on I/O threads for the memory adapter (network adapters
/// document their own executor rules).
class KeyValueStore {
public:
    virtual ~KeyValueStore() = default;

    /// Runs `script` atomically on `key`. `args` are passed as is; `ttl` (> 0) is how long the key
    /// lives after this write (the memory store applies it itself; it is also appended to the Lua
    /// ARGV).
    virtual Result<std::vector<std::int64_t>> atomic_update(std::string_view key, const AtomicScript& script,
                                                            std::span<const std::int64_t> args,
                                                            std::chrono::milliseconds ttl) = 0;

    /// Plain string values. ttl 0 = no expiry.
    virtual Result<std::optional<std::string>> get(std::string_view key) = 0;
    virtual Result<void> set(std::string_view key, std::string value, std::chrono::milliseconds ttl) = 0;
    /// True when the key existed.
    virtual Result<bool> erase(std::string_view key) = 0;
    /// Adds `delta` to an integer value (missing = 0) and returns the new value; sets ttl when the key
    /// is created (ttl 0 = none).
    virtual Result<std::int64_t> increment(std::string_view key, std::int64_t delta, std::chrono::milliseconds ttl) = 0;

    /// Drops expired entries now (memory adapter; others expire by themselves and return 0).
    virtual std::size_t purge_expired() = 0;
};

}  // namespace lt::ports
