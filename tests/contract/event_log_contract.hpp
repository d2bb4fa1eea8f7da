#pragma once
/// EventLog contract suite, run unchanged against every adapter.
///
/// Use from exactly one .cpp of a test executable:
///
///     struct MemoryHarness { ... };                 // satisfies EventLogHarness below
///     TYPE_TO_STRING_AS("memory", MemoryHarness);   // the suffix of the case names: "...<memory>"
///     LT_EVENT_LOG_CONTRACT(MemoryHarness);
///
/// Every topic and group name goes through `name(...)`, so cases stay apart on a shared broker.
/// Waits are real time (poll() waits in real time in every adapter); `kPatience` bounds how long a
/// case waits for records to show up (a broker needs longer than memory for the first fetch).

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lt/ports/event_log.hpp"

namespace lt::contract {

/// What an EventLog adapter's test harness provides.
template <class H>
concept EventLogHarness = requires(H& h, std::string_view name) {
    /// A harness, or null when the backend is not available (cases then skip with a message).
    { H::make() } -> std::same_as<std::unique_ptr<H>>;
    /// The log under test.
    { h.log() } -> std::same_as<ports::EventLog&>;
    /// A topic or group name derived from `name`, unique to this harness.
    { h.name(name) } -> std::convertible_to<std::string>;
    /// How long a case waits for appended records to become visible to a poller.
    { H::kPatience } -> std::convertible_to<std::chrono::milliseconds>;
};

/// A fresh harness, or null after printing why the cases of this adapter are skipped.
template <EventLogHarness H>
std::unique_ptr<H> make_event_log_harness() {
    auto harness = H::make();
    if (!harness) {
        MESSAGE("skipped: the event log backend is not available");
    }
    return harness;
}

/// Polls until `count` records arrived or `patience` passed; returns what arrived, in order.
inline std::vector<ports::EventRecord> collect(ports::EventLog& log, const std::string& topic,
                                               const std::string& group, std::size_t count,
                                               std::chrono::milliseconds patience, std::size_t max_per_poll = 1000) {
    std::vector<ports::EventRecord> out;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
        auto batch = log.poll(topic, group, max_per_poll, std::chrono::milliseconds(100));
        REQUIRE_MESSAGE(batch.has_value(), (batch ? std::string() : batch.error().message));
        out.insert(out.end(), batch->begin(), batch->end());
    }
    return out;
}

/// The values of `records`, sorted (a multiset as a vector, for exact comparisons).
inline std::vector<std::string> sorted_values(const std::vector<ports::EventRecord>& records) {
    std::vector<std::string> values;
    for (const auto& record : records) values.push_back(record.value);
    std::sort(values.begin(), values.end());
    return values;
}

/// `prefix` followed by `n` in decimal ("k7"). Built by appending: g++ 12 at -O3 reports a false
/// -Wrestrict on `"literal" + std::to_string(n)`.
inline std::string numbered(std::string_view prefix, long long n) {
    std::string text(prefix);
    text += std::to_string(n);
    return text;
}

/// Appends `count` records with keys k0..k{keys-1} in turn and values "<key>:<seq>"; returns them as
/// stored.
inline std::vector<ports::EventRecord> append_numbered(ports::EventLog& log, const std::string& topic, int count,
                                                       int keys) {
    std::vector<ports::EventRecord> stored;
    for (int i = 0; i < count; ++i) {
        const std::string key = numbered("k", i % keys);
        auto record = log.append(topic, key, numbered(key + ":", i));
        REQUIRE_MESSAGE(record.has_value(), (record ? std::string() : record.error().message));
        stored.push_back(*record);
    }
    return stored;
}

}  // namespace lt::contract

// The cases live at global scope, where LT_EVENT_LOG_CONTRACT instantiates them.
using lt::contract::append_numbered;
using lt::contract::collect;
using lt::contract::make_event_log_harness;
using lt::contract::numbered;
using lt::contract::sorted_values;

TEST_CASE_TEMPLATE_DEFINE("event log append returns the stored record with its offset", H, lt_el_append) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("fresh");
    auto first = log.append(topic, "user-1", "hello");
    REQUIRE(first.has_value());
    CHECK(first->topic == topic);
    CHECK(first->partition == 0);
    CHECK(first->offset == 0);
    CHECK(first->key == "user-1");
    CHECK(first->value == "hello");
    CHECK(first->timestamp != std::chrono::system_clock::time_point{});
    auto second = log.append(topic, "user-2", "world");
    REQUIRE(second.has_value());
    CHECK(second->partition == 0);
    CHECK(second->offset == 1);
}

TEST_CASE_TEMPLATE_DEFINE("event log creates a topic once and keeps its partitions", H, lt_el_create) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("orders");
    REQUIRE(log.create_topic(topic, 3).has_value());
    REQUIRE(log.create_topic(topic, 3).has_value());
    std::set<int> partitions;
    for (int i = 0; i < 60; ++i) {
        auto record = log.append(topic, numbered("key-", i), "v");
        REQUIRE(record.has_value());
        partitions.insert(record->partition);
    }
    CHECK(*partitions.begin() >= 0);
    CHECK(*partitions.rbegin() <= 2);
    CHECK(partitions.size() > 1);
}

TEST_CASE_TEMPLATE_DEFINE("event log puts every record of a key in the same partition", H, lt_el_partition) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("keyed");
    REQUIRE(log.create_topic(topic, 4).has_value());
    std::map<std::string, int> partition_of;
    std::map<int, std::int64_t> next_offset;
    for (int round = 0; round < 3; ++round) {
        for (int k = 0; k < 40; ++k) {
            const std::string key = numbered("user-", k);
            auto record = log.append(topic, key, "v");
            REQUIRE(record.has_value());
            auto [it, inserted] = partition_of.emplace(key, record->partition);
            CHECK(it->second == record->partition);
            // Offsets count up from 0 in each partition.
            CHECK(record->offset == next_offset[record->partition]++);
        }
    }
    CHECK(next_offset.size() > 1);
}

TEST_CASE_TEMPLATE_DEFINE("event log keeps the order of records with the same key", H, lt_el_order) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("ordered");
    const std::string group = h->name("reader");
    REQUIRE(log.create_topic(topic, 4).has_value());
    const auto stored = append_numbered(log, topic, 100, 5);
    const auto got = collect(log, topic, group, stored.size(), H::kPatience, 7);
    REQUIRE(got.size() == stored.size());
    std::map<std::string, int> last_seq;
    std::map<int, std::int64_t> last_offset;
    for (const auto& record : got) {
        const int seq = std::stoi(record.value.substr(record.value.find(':') + 1));
        auto seen = last_seq.find(record.key);
        if (seen != last_seq.end()) CHECK(seq > seen->second);
        last_seq[record.key] = seq;
        auto offset = last_offset.find(record.partition);
        if (offset != last_offset.end()) CHECK(record.offset == offset->second + 1);
        last_offset[record.partition] = record.offset;
    }
    CHECK(sorted_values(got) == sorted_values(stored));
}

TEST_CASE_TEMPLATE_DEFINE("event log append_batch stores a batch in order and answers each record", H, lt_el_batch) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("batched");
    const std::string other = h->name("batched-other");
    const std::string group = h->name("reader");
    REQUIRE(log.create_topic(topic, 3).has_value());
    REQUIRE(log.create_topic(other, 1).has_value());
    // Two topics in one batch, keys spread over partitions, values numbered in batch order.
    std::vector<std::string> keys;
    for (int i = 0; i < 60; ++i) keys.push_back(numbered("k", i % 4));
    std::vector<lt::ports::EventLog::Append> batch;
    for (int i = 0; i < 60; ++i) {
        batch.push_back({i % 10 == 9 ? std::string_view(other) : std::string_view(topic), keys[static_cast<std::size_t>(i)],
                         numbered(keys[static_cast<std::size_t>(i)] + ":", i)});
    }
    auto results = log.append_batch(batch);
    REQUIRE(results.size() == 60);
    std::map<std::pair<std::string, int>, std::int64_t> last_offset;
    std::vector<lt::ports::EventRecord> in_topic;
    for (int i = 0; i < 60; ++i) {
        const auto& r = results[static_cast<std::size_t>(i)];
        REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
        CHECK(r->topic == (i % 10 == 9 ? other : topic));
        CHECK(r->key == keys[static_cast<std::size_t>(i)]);
        CHECK(r->value == numbered(keys[static_cast<std::size_t>(i)] + ":", i));
        // Offsets grow in batch order within each partition.
        const auto where = std::make_pair(r->topic, r->partition);
        if (auto it = last_offset.find(where); it != last_offset.end()) CHECK(r->offset > it->second);
        last_offset[where] = r->offset;
        if (r->topic == topic) in_topic.push_back(*r);
    }
    const auto got = collect(log, topic, group, in_topic.size(), H::kPatience, 11);
    CHECK(sorted_values(got) == sorted_values(in_topic));
    std::map<std::string, int> last_seq;
    for (const auto& record : got) {
        const int seq = std::stoi(record.value.substr(record.value.find(':') + 1));
        if (auto seen = last_seq.find(record.key); seen != last_seq.end()) CHECK(seq > seen->second);
        last_seq[record.key] = seq;
    }
}

TEST_CASE_TEMPLATE_DEFINE("event log delivers each record once to a group that starts after the appends", H,
                          lt_el_once) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("once");
    const std::string group = h->name("reader");
    REQUIRE(log.create_topic(topic, 3).has_value());
    const auto stored = append_numbered(log, topic, 30, 4);
    const auto got = collect(log, topic, group, stored.size(), H::kPatience);
    CHECK(sorted_values(got) == sorted_values(stored));
    auto more = log.poll(topic, group, 100, std::chrono::milliseconds(200));
    REQUIRE(more.has_value());
    CHECK(more->empty());
}

TEST_CASE_TEMPLATE_DEFINE("event log delivers every record to each group", H, lt_el_groups) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("fanout");
    const std::string billing = h->name("billing");
    const std::string analytics = h->name("analytics");
    REQUIRE(log.create_topic(topic, 2).has_value());
    const auto stored = append_numbered(log, topic, 40, 6);
    const auto first = collect(log, topic, billing, stored.size(), H::kPatience);
    const auto second = collect(log, topic, analytics, stored.size(), H::kPatience);
    CHECK(sorted_values(first) == sorted_values(stored));
    CHECK(sorted_values(second) == sorted_values(stored));
}

TEST_CASE_TEMPLATE_DEFINE("two pollers in one group split the records without duplicates", H, lt_el_split) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("split");
    const std::string group = h->name("workers");
    REQUIRE(log.create_topic(topic, 4).has_value());
    constexpr int kRecords = 400;
    std::atomic<int> received{0};
    std::atomic<int> errors{0};
    const auto deadline = std::chrono::steady_clock::now() + H::kPatience;
    std::vector<lt::ports::EventRecord> got[2];
    std::vector<std::thread> pollers;
    for (int p = 0; p < 2; ++p) {
        pollers.emplace_back([&, p] {
            while (received.load() < kRecords && std::chrono::steady_clock::now() < deadline) {
                auto batch = log.poll(topic, group, 7, std::chrono::milliseconds(50));
                if (!batch) {
                    ++errors;
                    continue;
                }
                got[p].insert(got[p].end(), batch->begin(), batch->end());
                received += static_cast<int>(batch->size());
            }
        });
    }
    // Appending while both poll exercises the hand-over of fresh records.
    const auto stored = append_numbered(log, topic, kRecords, 9);
    for (auto& poller : pollers) poller.join();
    CHECK(errors.load() == 0);
    std::vector<lt::ports::EventRecord> all = got[0];
    all.insert(all.end(), got[1].begin(), got[1].end());
    CHECK(sorted_values(all) == sorted_values(stored));
    auto more = log.poll(topic, group, 100, std::chrono::milliseconds(200));
    REQUIRE(more.has_value());
    CHECK(more->empty());
}

TEST_CASE_TEMPLATE_DEFINE("commit sets the committed offset of the record's partition and group only", H,
                          lt_el_commit) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("commits");
    const std::string group = h->name("reader");
    const std::string other = h->name("other");
    REQUIRE(log.create_topic(topic, 2).has_value());
    const auto stored = append_numbered(log, topic, 40, 10);
    CHECK(log.committed(topic, group, 0).value() == 0);
    CHECK(log.committed(topic, group, 1).value() == 0);
    const auto got = collect(log, topic, group, stored.size(), H::kPatience);
    REQUIRE(got.size() == stored.size());
    const auto third = std::find_if(got.begin(), got.end(), [](const auto& r) { return r.offset == 2; });
    REQUIRE(third != got.end());
    const int partition = third->partition;
    REQUIRE(log.commit(group, *third).has_value());
    CHECK(log.committed(topic, group, partition).value() == 3);
    CHECK(log.committed(topic, group, 1 - partition).value() == 0);
    CHECK(log.committed(topic, other, partition).value() == 0);
}

TEST_CASE_TEMPLATE_DEFINE("seek delivers the record and the ones after it again", H, lt_el_seek) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("replay");
    const std::string group = h->name("reader");
    const std::string other = h->name("other");
    REQUIRE(log.create_topic(topic, 1).has_value());
    const auto stored = append_numbered(log, topic, 5, 1);
    const auto first = collect(log, topic, group, 5, H::kPatience);
    REQUIRE(first.size() == 5);
    REQUIRE(log.seek(group, first[2]).has_value());
    const auto again = collect(log, topic, group, 3, H::kPatience);
    REQUIRE(again.size() == 3);
    CHECK(again[0].value == stored[2].value);
    CHECK(again[1].value == stored[3].value);
    CHECK(again[2].value == stored[4].value);
    CHECK(again[0].offset == 2);
    auto more = log.poll(topic, group, 100, std::chrono::milliseconds(200));
    REQUIRE(more.has_value());
    CHECK(more->empty());
    // Another group's position is its own.
    CHECK(collect(log, topic, other, 5, H::kPatience).size() == 5);
}

TEST_CASE_TEMPLATE_DEFINE("poll waits up to the given time when there is nothing to read", H, lt_el_wait) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("quiet");
    const std::string group = h->name("reader");
    REQUIRE(log.create_topic(topic, 2).has_value());
    const auto wait = std::chrono::milliseconds(300);
    const auto start = std::chrono::steady_clock::now();
    auto got = log.poll(topic, group, 10, wait);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE(got.has_value());
    CHECK(got->empty());
    CHECK(elapsed >= wait - std::chrono::milliseconds(20));
    CHECK(elapsed < wait + H::kPatience);
}

TEST_CASE_TEMPLATE_DEFINE("poll returns as soon as a record arrives", H, lt_el_wake) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("wake");
    const std::string group = h->name("reader");
    REQUIRE(log.create_topic(topic, 2).has_value());
    const auto wait = std::chrono::milliseconds(20000);
    std::thread producer([&log, &topic] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        (void)log.append(topic, "late", "arrival");
    });
    const auto start = std::chrono::steady_clock::now();
    auto got = log.poll(topic, group, 10, wait);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    producer.join();
    REQUIRE(got.has_value());
    REQUIRE(got->size() == 1);
    CHECK(got->front().value == "arrival");
    CHECK(elapsed < wait / 2);
}

/// Instantiates every case above for `Harness`; once per test executable.
#define LT_EVENT_LOG_CONTRACT(Harness)                     \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_append, Harness);      \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_create, Harness);      \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_partition, Harness);   \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_order, Harness);       \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_batch, Harness);       \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_once, Harness);        \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_groups, Harness);      \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_split, Harness);       \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_commit, Harness);      \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_seek, Harness);        \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_wait, Harness);        \
    TEST_CASE_TEMPLATE_INVOKE(lt_el_wake, Harness);        \
    static_assert(::lt::contract::EventLogHarness<Harness>, "not an EventLogHarness")
