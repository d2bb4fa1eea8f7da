#include "lt/adapters/memory_key_value_store.hpp"

#include <array>
#include <charconv>
#include <exception>
#include <functional>
#include <mutex>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <variant>

namespace lt::adapters {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
using Fields = std::array<std::int64_t, 4>;

constexpr SteadyTime kNever = SteadyTime::max();

/// One key: a string (get/set/increment) or script fields, plus its expiry.
struct Entry {
    std::variant<std::string, Fields> value;
    SteadyTime expires_at = kNever;
};

/// Lets the maps be searched with a string_view, so lookups never build a std::string.
struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};

using Map = std::unordered_map<std::string, Entry, TransparentHash, std::equal_to<>>;

SteadyTime expiry_after(SteadyTime now, std::chrono::milliseconds ttl) {
    return ttl.count() > 0 ? now + ttl : kNever;
}

bool is_expired(const Entry& entry, SteadyTime now) { return entry.expires_at <= now; }

Error wrong_kind(std::string_view key) {
    return Error{Errc::conflict, "key '" + std::string(key) + "' holds another kind of value"};
}

}  // namespace

/// Aligned to a cache line so neighbouring shards' mutexes do not share one.
struct alignas(64) MemoryKeyValueStore::Shard {
    mutable std::mutex mutex;  ///< guards `map`
    Map map;
};

MemoryKeyValueStore::MemoryKeyValueStore(Clock& clock, std::size_t shard_count)
    : clock_(clock), shard_count_(shard_count == 0 ? 1 : shard_count), shards_(new Shard[shard_count_]) {}

MemoryKeyValueStore::~MemoryKeyValueStore() = default;

MemoryKeyValueStore::Shard& MemoryKeyValueStore::shard_for(std::string_view key) const {
    // The maps bucket by the low bits of the same hash; mixing before choosing the shard keeps the
    // keys of one shard spread over its buckets.
    std::uint64_t h = std::hash<std::string_view>{}(key);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return shards_[h % shard_count_];
}

Result<std::vector<std::int64_t>> MemoryKeyValueStore::update_now(std::string_view key,
                                                                  const ports::AtomicScript& script,
                                                                  std::span<const std::int64_t> args,
                                                                  std::chrono::milliseconds ttl) {
    if (ttl.count() <= 0) {
        return fail(Errc::invalid_argument, "atomic_update needs a positive ttl");
    }
    if (!script.native) {
        return fail(Errc::invalid_argument, "script '" + script.name + "' has no native implementation");
    }
    Shard& shard = shard_for(key);
    try {
        std::lock_guard lock(shard.mutex);
        const SteadyTime now = clock_.steady_now();
        auto it = shard.map.find(key);
        ports::KvState state;
        if (it != shard.map.end() && !is_expired(it->second, now)) {
            const Fields* fields = std::get_if<Fields>(&it->second.value);
            if (fields == nullptr) {
                return fail(wrong_kind(key));
            }
            state.exists = true;
            state.fields = *fields;
        }
        std::vector<std::int64_t> reply = script.native(state, args);
        if (!state.exists) {
            if (it != shard.map.end()) {
                shard.map.erase(it);
            }
            return reply;
        }
        if (it == shard.map.end()) {
            shard.map.emplace(std::string(key), Entry{state.fields, expiry_after(now, ttl)});
        } else {
            it->second.value = state.fields;
            it->second.expires_at = expiry_after(now, ttl);
        }
        return reply;
    } catch (const std::exception& e) {
        return fail(Errc::internal, "script '" + script.name + "' failed: " + e.what());
    } catch (...) {
        return fail(Errc::internal, "script '" + script.name + "' failed");
    }
}

Result<std::optional<std::string>> MemoryKeyValueStore::get_now(std::string_view key) {
    Shard& shard = shard_for(key);
    try {
        std::lock_guard lock(shard.mutex);
        auto it = shard.map.find(key);
        if (it == shard.map.end()) {
            return std::optional<std::string>();
        }
        if (is_expired(it->second, clock_.steady_now())) {
            shard.map.erase(it);
            return std::optional<std::string>();
        }
        const std::string* text = std::get_if<std::string>(&it->second.value);
        if (text == nullptr) {
            return fail(wrong_kind(key));
        }
        return std::optional<std::string>(*text);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("get failed: ") + e.what());
    }
}

Result<void> MemoryKeyValueStore::set_now(std::string_view key, std::string value, std::chrono::milliseconds ttl) {
    if (ttl.count() < 0) {
        return fail(Errc::invalid_argument, "set needs a ttl >= 0");
    }
    Shard& shard = shard_for(key);
    try {
        std::lock_guard lock(shard.mutex);
        const SteadyTime expires_at = expiry_after(clock_.steady_now(), ttl);
        auto it = shard.map.find(key);
        if (it == shard.map.end()) {
            shard.map.emplace(std::string(key), Entry{std::move(value), expires_at});
        } else {
            it->second.value = std::move(value);
            it->second.expires_at = expires_at;
        }
        return ok();
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("set failed: ") + e.what());
    }
}

Result<bool> MemoryKeyValueStore::erase_now(std::string_view key) {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mutex);
    auto it = shard.map.find(key);
    if (it == shard.map.end()) {
        return false;
    }
    const bool live = !is_expired(it->second, clock_.steady_now());
    shard.map.erase(it);
    return live;
}

Result<std::int64_t> MemoryKeyValueStore::increment_now(std::string_view key, std::int64_t delta,
                                                        std::chrono::milliseconds ttl) {
    if (ttl.count() < 0) {
        return fail(Errc::invalid_argument, "increment needs a ttl >= 0");
    }
    Shard& shard = shard_for(key);
    try {
        std::lock_guard lock(shard.mutex);
        const SteadyTime now = clock_.steady_now();
        auto it = shard.map.find(key);
        if (it != shard.map.end() && is_expired(it->second, now)) {
            shard.map.erase(it);
            it = shard.map.end();
        }
        std::int64_t current = 0;
        if (it != shard.map.end()) {
            const std::string* text = std::get_if<std::string>(&it->second.value);
            if (text == nullptr) {
                return fail(wrong_kind(key));
            }
            const char* end = text->data() + text->size();
            auto [ptr, ec] = std::from_chars(text->data(), end, current);
            if (ec != std::errc() || ptr != end || text->empty()) {
                return fail(Errc::invalid_argument, "value of '" + std::string(key) + "' is not an integer");
            }
        }
        std::int64_t next = 0;
        if (__builtin_add_overflow(current, delta, &next)) {
            return fail(Errc::invalid_argument, "increment of '" + std::string(key) + "' would overflow");
        }
        std::array<char, 24> digits{};
        const auto written = std::to_chars(digits.data(), digits.data() + digits.size(), next);
        const std::string_view text(digits.data(), static_cast<std::size_t>(written.ptr - digits.data()));
        if (it == shard.map.end()) {
            shard.map.emplace(std::string(key), Entry{std::string(text), expiry_after(now, ttl)});
        } else {
            // Assigning into the existing string reuses its buffer.
            std::get<std::string>(it->second.value).assign(text);
        }
        return next;
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("increment failed: ") + e.what());
    }
}

// The awaitable calls: each body runs synchronously on the first resumption and co_returns.

boost::asio::awaitable<Result<std::vector<std::int64_t>>> MemoryKeyValueStore::atomic_update(
    std::string_view key, const ports::AtomicScript& script, std::span<const std::int64_t> args,
    std::chrono::milliseconds ttl) {
    co_return update_now(key, script, args, ttl);
}

boost::asio::awaitable<Result<std::optional<std::string>>> MemoryKeyValueStore::get(std::string_view key) {
    co_return get_now(key);
}

boost::asio::awaitable<Result<void>> MemoryKeyValueStore::set(std::string_view key, std::string value,
                                                              std::chrono::milliseconds ttl) {
    co_return set_now(key, std::move(value), ttl);
}

boost::asio::awaitable<Result<bool>> MemoryKeyValueStore::erase(std::string_view key) { co_return erase_now(key); }

boost::asio::awaitable<Result<std::int64_t>> MemoryKeyValueStore::increment(std::string_view key, std::int64_t delta,
                                                                            std::chrono::milliseconds ttl) {
    co_return increment_now(key, delta, ttl);
}

std::size_t MemoryKeyValueStore::purge_expired() {
    std::size_t removed = 0;
    for (std::size_t i = 0; i < shard_count_; ++i) {
        Shard& shard = shards_[i];
        std::lock_guard lock(shard.mutex);
        const SteadyTime now = clock_.steady_now();
        removed += std::erase_if(shard.map, [now](const auto& item) { return is_expired(item.second, now); });
    }
    return removed;
}

std::size_t MemoryKeyValueStore::size() const {
    std::size_t total = 0;
    for (std::size_t i = 0; i < shard_count_; ++i) {
        std::lock_guard lock(shards_[i].mutex);
        total += shards_[i].map.size();
    }
    return total;
}

}  // namespace lt::adapters
