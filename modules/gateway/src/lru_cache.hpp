#pragma once
/// A bounded least-recently-used cache with per-entry expiry. Thread-safe (one mutex: entries are
/// small and critical sections short).

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace lt::gateway {

template <class V>
class LruCache {
public:
    using TimePoint = std::chrono::steady_clock::time_point;

    explicit LruCache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

    /// The value when present and not expired at `now` (an expired entry is dropped).
    std::optional<V> get(const std::string& key, TimePoint now) {
        std::lock_guard lock(mutex_);
        auto it = index_.find(key);
        if (it == index_.end()) return std::nullopt;
        if (it->second->expires <= now) {
            order_.erase(it->second);
            index_.erase(it);
            return std::nullopt;
        }
        order_.splice(order_.begin(), order_, it->second);
        return it->second->value;
    }

    /// Inserts or replaces; evicts the least recently used entry when full.
    void put(const std::string& key, V value, TimePoint expires) {
        std::lock_guard lock(mutex_);
        if (auto it = index_.find(key); it != index_.end()) {
            it->second->value = std::move(value);
            it->second->expires = expires;
            order_.splice(order_.begin(), order_, it->second);
            return;
        }
        if (index_.size() >= capacity_) {
            index_.erase(order_.back().key);
            order_.pop_back();
        }
        order_.push_front(Entry{key, std::move(value), expires});
        index_.emplace(key, order_.begin());
    }

    bool erase(const std::string& key) {
        std::lock_guard lock(mutex_);
        auto it = index_.find(key);
        if (it == index_.end()) return false;
        order_.erase(it->second);
        index_.erase(it);
        return true;
    }

    /// Drops every entry for which `pred(value)` is true. Returns how many.
    std::size_t erase_if(const std::function<bool(const V&)>& pred) {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (auto it = order_.begin(); it != order_.end();) {
            if (pred(it->value)) {
                index_.erase(it->key);
                it = order_.erase(it);
                ++n;
            } else {
                ++it;
            }
        }
        return n;
    }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return index_.size();
    }

private:
    struct Entry {
        std::string key;
        V value;
        TimePoint expires;
    };
    std::size_t capacity_;
    mutable std::mutex mutex_;  ///< guards order_ and index_
    std::list<Entry> order_;    ///< most recently used first
    std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

}  // namespace lt::gateway
