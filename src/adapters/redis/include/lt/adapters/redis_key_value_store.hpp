#pragma once
/// RedisKeyValueStore: the production KeyValueStore adapter (storage.kv.driver=redis).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "lt/core/log.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/key_value_store.hpp"

namespace lt::adapters {

/// Tuning of a RedisKeyValueStore (storage.kv.*).
struct RedisOptions {
    /// Connections in the pool (storage.kv.pool-size), at least 1. Each pipelines its calls.
    std::size_t pool_size = 4;
    /// Deadline of one call and of one connect attempt (storage.kv.timeout), > 0.
    std::chrono::milliseconds timeout{500};
    /// Wait after a failed connect attempt; doubles on each failure up to reconnect_max.
    std::chrono::milliseconds reconnect_min{25};
    std::chrono::milliseconds reconnect_max{1000};
    /// rediss:// only: a PEM CA bundle trusted besides the system store (tests, private CAs; the
    /// system store also honours SSL_CERT_FILE / SSL_CERT_DIR).
    std::string tls_ca_file;
    /// Connection up/down events (never the password); may be null.
    Logger log;
};

/// KeyValueStore on Redis (5+). Keys map to Redis keys as given: plain values are Redis strings,
/// AtomicScript state is a hash with fields f0..f3 that the script's Lua reads and writes (EVALSHA,
/// reloaded with EVAL after a NOSCRIPT, e.g. after a Redis restart or SCRIPT FLUSH); the ttl is appended
/// to ARGV and the script PEXPIREs the key itself, so the semantics are those of MemoryKeyValueStore
/// (a key holding the other kind of value answers Errc::conflict, as Redis answers WRONGTYPE).
///
/// Transport: a pool of `pool_size` connections owned by Asio (TCP or TLS with certificate and host
/// name verification against the system CA store), each pipelining its calls; hiredis is only the
/// RESP codec. AUTH and SELECT run on every (re)connect. A call that gets no reply within `timeout`
/// fails with Errc::unavailable and its connection is dropped and re-established; while no connection
/// is up, calls fail with Errc::unavailable at once; connections come back by themselves (backoff
/// reconnect_min doubling to reconnect_max).
///
/// Thread-safe: any coroutine on any executor may await any call; it resumes on its own executor.
/// The connections run on the executor given to open(), which must outlive the store.
class RedisKeyValueStore final : public ports::KeyValueStore {
public:
    /// Parses `url` (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS; port 6379 by
    /// default) and starts connecting on `ex` in the background; returns at once (never blocks).
    /// invalid_argument for a bad url or options (the message never contains the password). Start-up
    /// thread.
    static Result<std::unique_ptr<RedisKeyValueStore>> open(boost::asio::any_io_executor ex, std::string url,
                                                            RedisOptions options);

    /// Closes the connections; calls still queued fail with unavailable. Not from a coroutine awaiting
    /// this store.
    ~RedisKeyValueStore() override;
    RedisKeyValueStore(const RedisKeyValueStore&) = delete;
    RedisKeyValueStore& operator=(const RedisKeyValueStore&) = delete;

    /// EVALSHA of `script.lua` with KEYS[1] = key and ARGV = args..., ttl ms. invalid_argument when
    /// ttl <= 0 or the script has no Lua; conflict when the key holds a string; internal when the
    /// script fails or replies something other than an array of integers. Any coroutine.
    boost::asio::awaitable<Result<std::vector<std::int64_t>>> atomic_update(std::string_view key,
                                                                            const ports::AtomicScript& script,
                                                                            std::span<const std::int64_t> args,
                                                                            std::chrono::milliseconds ttl) override;
    /// GET. Any coroutine.
    boost::asio::awaitable<Result<std::optional<std::string>>> get(std::string_view key) override;
    /// SET (PX ttl when ttl > 0). Any coroutine.
    boost::asio::awaitable<Result<void>> set(std::string_view key, std::string value,
                                             std::chrono::milliseconds ttl) override;
    /// DEL. Any coroutine.
    boost::asio::awaitable<Result<bool>> erase(std::string_view key) override;
    /// MULTI; SET key 0 NX [PX ttl]; INCRBY key delta; EXEC (exact over the whole int64 range). Any
    /// coroutine.
    boost::asio::awaitable<Result<std::int64_t>> increment(std::string_view key, std::int64_t delta,
                                                           std::chrono::milliseconds ttl) override;

    /// Redis expires keys itself: returns 0.
    std::size_t purge_expired() override { return 0; }
    /// True while at least one connection of the pool is up. Any thread.
    bool available() const override;
    /// Connections of the pool that are up now. Any thread.
    std::size_t connected_count() const;

private:
    struct Impl;
    explicit RedisKeyValueStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace lt::adapters
