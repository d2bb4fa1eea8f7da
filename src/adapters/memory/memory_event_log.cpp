#include "lt/adapters/memory_event_log.hpp"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>

namespace lt::adapters {

namespace {

/// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), on unsigned arithmetic.
std::uint32_t murmur2(std::string_view data) {
    constexpr std::uint32_t kSeed = 0x9747b28cU;
    constexpr std::uint32_t kM = 0x5bd1e995U;
    constexpr int kR = 24;
    const auto byte = [&data](std::size_t i) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(data[i]));
    };
    const std::size_t length = data.size();
    std::uint32_t h = kSeed ^ static_cast<std::uint32_t>(length);
    const std::size_t whole = length / 4 * 4;
    for (std::size_t i = 0; i < whole; i += 4) {
        std::uint32_t k = byte(i) | (byte(i + 1) << 8) | (byte(i + 2) << 16) | (byte(i + 3) << 24);
        k *= kM;
        k ^= k >> kR;
        k *= kM;
        h *= kM;
        h ^= k;
    }
    switch (length % 4) {
        case 3:
            h ^= byte(whole + 2) << 16;
            [[fallthrough]];
        case 2:
            h ^= byte(whole + 1) << 8;
            [[fallthrough]];
        case 1:
            h ^= byte(whole);
            h *= kM;
            break;
        default:
            break;
    }
    h ^= h >> 13;
    h *= kM;
    h ^= h >> 15;
    return h;
}

}  // namespace

MemoryEventLog::MemoryEventLog(Clock& clock, int default_partitions, bool trim_consumed)
    : clock_(clock), default_partitions_(std::max(default_partitions, 1)), trim_consumed_(trim_consumed) {}

MemoryEventLog::~MemoryEventLog() = default;

int MemoryEventLog::partition_for_key(std::string_view key, int partitions) {
    if (partitions <= 1) {
        return 0;
    }
    return static_cast<int>((murmur2(key) & 0x7fffffffU) % static_cast<std::uint32_t>(partitions));
}

MemoryEventLog::Topic& MemoryEventLog::ensure_topic(std::string_view topic, int partitions) {
    auto it = topics_.find(topic);
    if (it == topics_.end()) {
        it = topics_.emplace(std::string(topic), Topic{}).first;
        it->second.partitions.resize(static_cast<std::size_t>(partitions));
    }
    return it->second;
}

MemoryEventLog::GroupTopic& MemoryEventLog::ensure_group_topic(std::string_view group, std::string_view topic,
                                                               const Topic& state) {
    auto g = groups_.find(group);
    if (g == groups_.end()) {
        g = groups_.emplace(std::string(group), GroupTopicMap{}).first;
    }
    auto t = g->second.find(topic);
    if (t == g->second.end()) {
        t = g->second.emplace(std::string(topic), GroupTopic{}).first;
    }
    // New groups start at offset 0: committed and position are value-initialised.
    if (t->second.partitions.size() < state.partitions.size()) {
        t->second.partitions.resize(state.partitions.size());
    }
    return t->second;
}

Result<MemoryEventLog::GroupPartition*> MemoryEventLog::locate(std::string_view group,
                                                               const ports::EventRecord& record) {
    auto t = topics_.find(record.topic);
    if (t == topics_.end()) {
        return fail(Errc::invalid_argument, "unknown topic '" + record.topic + "'");
    }
    const auto& partitions = t->second.partitions;
    if (record.partition < 0 || static_cast<std::size_t>(record.partition) >= partitions.size()) {
        return fail(Errc::invalid_argument,
                    "topic '" + record.topic + "' has no partition " + std::to_string(record.partition));
    }
    const auto& part = partitions[static_cast<std::size_t>(record.partition)];
    // Below the partition's base is fine: such a record was consumed by every group and trimmed.
    if (record.offset < 0 || record.offset >= part.end()) {
        return fail(Errc::invalid_argument, "offset " + std::to_string(record.offset) + " was never appended to '" +
                                                record.topic + "'/" + std::to_string(record.partition));
    }
    GroupTopic& cursor = ensure_group_topic(group, record.topic, t->second);
    return &cursor.partitions[static_cast<std::size_t>(record.partition)];
}

Result<void> MemoryEventLog::create_topic(std::string_view topic, int partitions) {
    if (partitions < 1) {
        return fail(Errc::invalid_argument, "a topic needs at least one partition");
    }
    if (topic.empty()) {
        return fail(Errc::invalid_argument, "topic name is empty");
    }
    try {
        std::lock_guard lock(mutex_);
        ensure_topic(topic, partitions);
        return ok();
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("create_topic failed: ") + e.what());
    }
}

Result<ports::EventRecord> MemoryEventLog::append(std::string_view topic, std::string_view key, std::string value) {
    if (topic.empty()) {
        return fail(Errc::invalid_argument, "topic name is empty");
    }
    try {
        ports::EventRecord stored;
        {
            std::lock_guard lock(mutex_);
            Topic& state = ensure_topic(topic, default_partitions_);
            const int partition = partition_for_key(key, static_cast<int>(state.partitions.size()));
            auto& part = state.partitions[static_cast<std::size_t>(partition)];
            part.records.push_back(ports::EventRecord{std::string(topic), partition, part.end(), std::string(key),
                                                      std::move(value), clock_.now()});
            stored = part.records.back();
        }
        appended_.notify_all();
        return stored;
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("append failed: ") + e.what());
    }
}

std::vector<ports::EventRecord> MemoryEventLog::take(GroupTopic& cursor, const Topic& topic, std::size_t max) {
    std::vector<ports::EventRecord> out;
    const std::size_t count = topic.partitions.size();
    const std::size_t start = cursor.next_partition % count;
    cursor.next_partition = (start + 1) % count;
    for (std::size_t i = 0; i < count && out.size() < max; ++i) {
        const std::size_t p = (start + i) % count;
        const auto& part = topic.partitions[p];
        std::int64_t& position = cursor.partitions[p].position;
        position = std::max(position, part.base);  // what was trimmed is gone: start at the oldest kept
        while (position < part.end() && out.size() < max) {
            out.push_back(part.records[static_cast<std::size_t>(position - part.base)]);
            ++position;
        }
    }
    return out;
}

Result<std::vector<ports::EventRecord>> MemoryEventLog::poll(std::string_view topic, std::string_view group,
                                                             std::size_t max, std::chrono::milliseconds wait) {
    if (max == 0) {
        return std::vector<ports::EventRecord>();
    }
    // Clamped so that an "infinite" wait cannot overflow the deadline.
    const auto bounded =
        std::clamp(wait, std::chrono::milliseconds(0), std::chrono::milliseconds(std::chrono::hours(24)));
    const auto deadline = std::chrono::steady_clock::now() + bounded;
    try {
        std::unique_lock lock(mutex_);
        for (;;) {
            auto t = topics_.find(topic);
            if (t != topics_.end()) {
                GroupTopic& cursor = ensure_group_topic(group, topic, t->second);
                std::vector<ports::EventRecord> records = take(cursor, t->second, max);
                if (!records.empty()) {
                    return records;
                }
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                return std::vector<ports::EventRecord>();
            }
            appended_.wait_until(lock, deadline);
        }
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("poll failed: ") + e.what());
    }
}

Result<void> MemoryEventLog::commit(std::string_view group, const ports::EventRecord& record) {
    try {
        std::lock_guard lock(mutex_);
        auto located = locate(group, record);
        if (!located) {
            return fail(std::move(located.error()));
        }
        GroupPartition& cursor = **located;
        cursor.committed = std::max(cursor.committed, record.offset + 1);
        if (trim_consumed_) {
            auto& part = topics_.find(record.topic)->second.partitions[static_cast<std::size_t>(record.partition)];
            trim(record.topic, part, static_cast<std::size_t>(record.partition));
        }
        return ok();
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("commit failed: ") + e.what());
    }
}

void MemoryEventLog::trim(std::string_view topic, Partition& partition, std::size_t index) {
    // In steps, so that a busy partition does not pay a pop (nor this scan of the groups) per commit.
    constexpr std::int64_t kStep = 256;
    if (partition.end() - partition.base < kStep) return;
    std::int64_t upto = partition.end();
    for (const auto& [name, by_topic] : groups_) {
        auto t = by_topic.find(topic);
        if (t == by_topic.end()) continue;
        upto = std::min(upto, index < t->second.partitions.size() ? t->second.partitions[index].committed : 0);
    }
    if (upto - partition.base < kStep) return;
    while (partition.base < upto) {
        partition.records.pop_front();
        ++partition.base;
    }
}

Result<std::int64_t> MemoryEventLog::consumed_by_all(std::string_view topic, int partition) {
    if (partition < 0) return fail(Errc::invalid_argument, "partition must be >= 0");
    std::lock_guard lock(mutex_);
    const auto index = static_cast<std::size_t>(partition);
    std::optional<std::int64_t> lowest;
    for (const auto& [name, by_topic] : groups_) {
        auto t = by_topic.find(topic);
        if (t == by_topic.end()) continue;
        const std::int64_t c = index < t->second.partitions.size() ? t->second.partitions[index].committed : 0;
        lowest = lowest ? std::min(*lowest, c) : c;
    }
    return lowest.value_or(0);
}

std::size_t MemoryEventLog::retained(std::string_view topic) {
    std::lock_guard lock(mutex_);
    auto t = topics_.find(topic);
    if (t == topics_.end()) return 0;
    std::size_t n = 0;
    for (const auto& p : t->second.partitions) n += p.records.size();
    return n;
}

Result<void> MemoryEventLog::seek(std::string_view group, const ports::EventRecord& record) {
    try {
        {
            std::lock_guard lock(mutex_);
            auto located = locate(group, record);
            if (!located) {
                return fail(std::move(located.error()));
            }
            (*located)->position = record.offset;
        }
        // The rewound records are available again to pollers already waiting.
        appended_.notify_all();
        return ok();
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("seek failed: ") + e.what());
    }
}

Result<std::int64_t> MemoryEventLog::committed(std::string_view topic, std::string_view group, int partition) {
    if (partition < 0) {
        return fail(Errc::invalid_argument, "partition must be >= 0");
    }
    std::lock_guard lock(mutex_);
    auto t = topics_.find(topic);
    if (t != topics_.end() && static_cast<std::size_t>(partition) >= t->second.partitions.size()) {
        return fail(Errc::invalid_argument,
                    "topic '" + std::string(topic) + "' has no partition " + std::to_string(partition));
    }
    auto g = groups_.find(group);
    if (g == groups_.end()) {
        return std::int64_t{0};
    }
    auto c = g->second.find(topic);
    if (c == g->second.end() || static_cast<std::size_t>(partition) >= c->second.partitions.size()) {
        return std::int64_t{0};
    }
    return c->second.partitions[static_cast<std::size_t>(partition)].committed;
}

}  // namespace lt::adapters
