#pragma once
/// lt::EventConsumer over each EventLog adapter: the at-least-once, ordered delivery that modules
/// rely on. Use next to event_log_contract.hpp, from exactly one .cpp of a test executable:
///
///     LT_EVENT_CONSUMER_CONTRACT(MemoryHarness);    // Harness as for LT_EVENT_LOG_CONTRACT

#include <doctest/doctest.h>

#include <chrono>
#include <algorithm>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include "contract/event_log_contract.hpp"
#include "lt/core/event_consumer.hpp"

namespace lt::contract {

/// A logger that formats everything and writes nowhere.
inline Logger quiet_logger() {
    auto logger = std::make_shared<spdlog::logger>("contract", std::make_shared<spdlog::sinks::null_sink_mt>());
    logger->set_level(spdlog::level::trace);
    return logger;
}

/// True once `done()` holds, false when `timeout` passed first.
template <class Done>
bool eventually(Done done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

/// Forwards to another EventLog and counts commit() calls per (partition, offset).
class CommitCountingEventLog final : public ports::EventLog {
public:
    explicit CommitCountingEventLog(ports::EventLog& inner) : inner_(inner) {}

    Result<void> create_topic(std::string_view topic, int partitions) override {
        return inner_.create_topic(topic, partitions);
    }
    Result<ports::EventRecord> append(std::string_view topic, std::string_view key, std::string value) override {
        return inner_.append(topic, key, std::move(value));
    }
    Result<std::vector<ports::EventRecord>> poll(std::string_view topic, std::string_view group, std::size_t max,
                                                 std::chrono::milliseconds wait) override {
        return inner_.poll(topic, group, max, wait);
    }
    Result<void> commit(std::string_view group, const ports::EventRecord& record) override {
        {
            std::lock_guard lock(mutex_);
            ++commits_[{record.partition, record.offset}];
        }
        return inner_.commit(group, record);
    }
    Result<void> seek(std::string_view group, const ports::EventRecord& record) override {
        return inner_.seek(group, record);
    }
    Result<std::int64_t> committed(std::string_view topic, std::string_view group, int partition) override {
        return inner_.committed(topic, group, partition);
    }

    /// How many times commit() was called for that record.
    int commits_of(int partition, std::int64_t offset) const {
        std::lock_guard lock(mutex_);
        auto it = commits_.find({partition, offset});
        return it == commits_.end() ? 0 : it->second;
    }

private:
    ports::EventLog& inner_;
    mutable std::mutex mutex_;
    std::map<std::pair<int, std::int64_t>, int> commits_;
};

/// Records what a handler saw, from the consumer thread, for the test thread.
class Seen {
public:
    void add(const std::string& value) {
        std::lock_guard lock(mutex_);
        values_.push_back(value);
    }
    std::vector<std::string> values() const {
        std::lock_guard lock(mutex_);
        return values_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> values_;
};

/// Options with short pauses, for tests.
inline EventConsumerOptions quick_options(std::string topic, std::string group) {
    EventConsumerOptions options;
    options.topic = std::move(topic);
    options.group = std::move(group);
    options.max_batch = 10;
    options.poll_wait = std::chrono::milliseconds(50);
    options.initial_backoff = std::chrono::milliseconds(10);
    options.max_backoff = std::chrono::milliseconds(40);
    return options;
}

}  // namespace lt::contract

using lt::contract::CommitCountingEventLog;
using lt::contract::eventually;
using lt::contract::quick_options;
using lt::contract::quiet_logger;
using lt::contract::Seen;

TEST_CASE_TEMPLATE_DEFINE("event consumer retries a failing record until it succeeds, commits it once and keeps "
                          "the order",
                          H, lt_ec_retry) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    CommitCountingEventLog log(h->log());
    const std::string topic = h->name("retry");
    const std::string group = h->name("consumer");
    REQUIRE(log.create_topic(topic, 1).has_value());
    for (const char* value : {"a", "b", "c"}) REQUIRE(log.append(topic, "same-key", value).has_value());
    Seen seen;
    int failures_left = 2;  // touched only by the consumer thread
    lt::EventConsumer consumer(
        log, quick_options(topic, group),
        [&](const lt::ports::EventRecord& record) -> lt::Result<void> {
            seen.add(record.value);
            if (record.value == "b" && failures_left > 0) {
                --failures_left;
                return lt::fail(lt::Errc::unavailable, "downstream is down");
            }
            return lt::ok();
        },
        quiet_logger());
    REQUIRE(consumer.start().has_value());
    CHECK(eventually([&] { return consumer.delivered() == 3; }, H::kPatience));
    consumer.stop();
    CHECK(seen.values() == std::vector<std::string>{"a", "b", "b", "b", "c"});
    CHECK(consumer.failed() == 2);
    CHECK(consumer.delivered() == 3);
    CHECK(log.commits_of(0, 0) == 1);
    CHECK(log.commits_of(0, 1) == 1);
    CHECK(log.commits_of(0, 2) == 1);
    CHECK(log.committed(topic, group, 0).value() == 3);
}

TEST_CASE_TEMPLATE_DEFINE("event consumer hands over every record of every partition in key order", H,
                          lt_ec_all) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("all");
    const std::string group = h->name("consumer");
    REQUIRE(log.create_topic(topic, 4).has_value());
    const auto stored = append_numbered(log, topic, 100, 5);
    Seen seen;
    lt::EventConsumer consumer(
        log, quick_options(topic, group),
        [&](const lt::ports::EventRecord& record) -> lt::Result<void> {
            seen.add(record.value);
            return lt::ok();
        },
        quiet_logger());
    REQUIRE(consumer.start().has_value());
    CHECK(eventually([&] { return consumer.delivered() == stored.size(); }, H::kPatience));
    consumer.stop();
    const auto values = seen.values();
    std::map<std::string, int> last_seq;
    for (const auto& value : values) {
        const std::string key = value.substr(0, value.find(':'));
        const int seq = std::stoi(value.substr(value.find(':') + 1));
        auto seen_key = last_seq.find(key);
        if (seen_key != last_seq.end()) CHECK(seq > seen_key->second);
        last_seq[key] = seq;
    }
    std::vector<std::string> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == sorted_values(stored));
    std::map<int, std::int64_t> ends;
    for (const auto& record : stored) ends[record.partition] = record.offset + 1;
    for (const auto& [partition, end] : ends) CHECK(log.committed(topic, group, partition).value() == end);
}

TEST_CASE_TEMPLATE_DEFINE("event consumer doubles its pause after each failure up to the maximum", H,
                          lt_ec_backoff) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("backoff");
    const std::string group = h->name("consumer");
    REQUIRE(log.create_topic(topic, 1).has_value());
    REQUIRE(log.append(topic, "k", "poison").has_value());
    std::mutex mutex;
    std::vector<std::chrono::steady_clock::time_point> calls;
    auto options = quick_options(topic, group);
    options.initial_backoff = std::chrono::milliseconds(20);
    options.max_backoff = std::chrono::milliseconds(40);
    lt::EventConsumer consumer(
        log, options,
        [&](const lt::ports::EventRecord&) -> lt::Result<void> {
            std::lock_guard lock(mutex);
            calls.push_back(std::chrono::steady_clock::now());
            return lt::fail(lt::Errc::internal, "always fails");
        },
        quiet_logger());
    REQUIRE(consumer.start().has_value());
    CHECK(eventually([&] { return consumer.failed() >= 8; }, H::kPatience + std::chrono::seconds(5)));
    consumer.stop();
    std::lock_guard lock(mutex);
    REQUIRE(calls.size() >= 8);
    const auto gap = [&](std::size_t i) { return calls[i + 1] - calls[i]; };
    CHECK(gap(0) >= std::chrono::milliseconds(19));
    CHECK(gap(1) >= std::chrono::milliseconds(39));
    CHECK(gap(2) >= std::chrono::milliseconds(39));
    // Doubling without the cap would make this gap 20 ms * 2^6 = 1280 ms.
    CHECK(gap(6) < std::chrono::milliseconds(1000));
    CHECK(consumer.delivered() == 0);
    CHECK(log.committed(topic, group, 0).value() == 0);
}

TEST_CASE_TEMPLATE_DEFINE("event consumer stops within the poll wait when idle", H, lt_ec_stop_idle) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("idle");
    REQUIRE(log.create_topic(topic, 1).has_value());
    auto options = quick_options(topic, h->name("consumer"));
    options.poll_wait = std::chrono::milliseconds(200);
    lt::EventConsumer consumer(
        log, options, [](const lt::ports::EventRecord&) { return lt::ok(); }, quiet_logger());
    REQUIRE(consumer.start().has_value());
    CHECK(consumer.running());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto start = std::chrono::steady_clock::now();
    consumer.stop();
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(elapsed < options.poll_wait + std::chrono::milliseconds(300));
    CHECK_FALSE(consumer.running());
    consumer.stop();
}

TEST_CASE_TEMPLATE_DEFINE("event consumer stops promptly during a long backoff pause", H, lt_ec_stop_backoff) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("stuck");
    const std::string group = h->name("consumer");
    REQUIRE(log.create_topic(topic, 1).has_value());
    REQUIRE(log.append(topic, "k", "poison").has_value());
    auto options = quick_options(topic, group);
    options.initial_backoff = std::chrono::seconds(30);
    options.max_backoff = std::chrono::seconds(60);
    lt::EventConsumer consumer(
        log, options, [](const lt::ports::EventRecord&) { return lt::fail(lt::Errc::internal, "no"); },
        quiet_logger());
    REQUIRE(consumer.start().has_value());
    REQUIRE(eventually([&] { return consumer.failed() == 1; }, H::kPatience));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto start = std::chrono::steady_clock::now();
    consumer.stop();
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));
    CHECK(consumer.failed() == 1);
    CHECK(log.committed(topic, group, 0).value() == 0);
}

TEST_CASE_TEMPLATE_DEFINE("a restarted event consumer resumes after the last committed record", H, lt_ec_resume) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("resume");
    const std::string group = h->name("consumer");
    REQUIRE(log.create_topic(topic, 1).has_value());
    for (const char* value : {"1", "2", "3"}) REQUIRE(log.append(topic, "k", value).has_value());
    Seen seen;
    const auto handler = [&](const lt::ports::EventRecord& record) -> lt::Result<void> {
        seen.add(record.value);
        return lt::ok();
    };
    {
        lt::EventConsumer first(log, quick_options(topic, group), handler, quiet_logger());
        REQUIRE(first.start().has_value());
        CHECK(eventually([&] { return first.delivered() == 3; }, H::kPatience));
    }
    for (const char* value : {"4", "5"}) REQUIRE(log.append(topic, "k", value).has_value());
    lt::EventConsumer second(log, quick_options(topic, group), handler, quiet_logger());
    REQUIRE(second.start().has_value());
    CHECK(eventually([&] { return second.delivered() == 2; }, H::kPatience));
    second.stop();
    CHECK(seen.values() == std::vector<std::string>{"1", "2", "3", "4", "5"});
    CHECK(log.committed(topic, group, 0).value() == 5);
}

TEST_CASE_TEMPLATE_DEFINE("event consumer with a batch handler hands over whole batches and commits the last record "
                          "of each partition",
                          H, lt_ec_batch_all) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    CommitCountingEventLog log(h->log());
    const std::string topic = h->name("batch-all");
    const std::string group = h->name("consumer");
    REQUIRE(log.create_topic(topic, 2).has_value());
    const auto stored = append_numbered(log, topic, 45, 6);
    std::mutex mutex;
    std::vector<std::vector<lt::ports::EventRecord>> batches;
    lt::EventConsumer consumer(
        log, quick_options(topic, group),
        [&](std::span<const lt::ports::EventRecord> batch) -> lt::Result<void> {
            std::lock_guard lock(mutex);
            batches.emplace_back(batch.begin(), batch.end());
            return lt::ok();
        },
        quiet_logger());
    REQUIRE(consumer.start().has_value());
    CHECK(eventually([&] { return consumer.delivered() == stored.size(); }, H::kPatience));
    consumer.stop();
    std::lock_guard lock(mutex);
    std::vector<std::string> values;
    std::map<int, std::int64_t> next_offset;
    for (const auto& batch : batches) {
        CHECK_FALSE(batch.empty());
        CHECK(batch.size() <= 10);
        for (const auto& record : batch) {
            values.push_back(record.value);
            // In order within a partition, across batches too, and never twice.
            CHECK(record.offset == next_offset[record.partition]);
            next_offset[record.partition] = record.offset + 1;
        }
        // Only the last record of each partition in the batch was committed.
        std::map<int, std::int64_t> last;
        for (const auto& record : batch) last[record.partition] = record.offset;
        for (const auto& record : batch) {
            CHECK(log.commits_of(record.partition, record.offset) == (last[record.partition] == record.offset ? 1 : 0));
        }
    }
    std::sort(values.begin(), values.end());
    CHECK(values == sorted_values(stored));
    CHECK(consumer.failed() == 0);
    std::map<int, std::int64_t> ends;
    for (const auto& record : stored) ends[record.partition] = record.offset + 1;
    for (const auto& [partition, end] : ends) CHECK(log.committed(topic, group, partition).value() == end);
}

TEST_CASE_TEMPLATE_DEFINE("event consumer with a batch handler redelivers the whole batch after a failure", H,
                          lt_ec_batch_retry) {
    auto h = make_event_log_harness<H>();
    if (!h) return;
    auto& log = h->log();
    const std::string topic = h->name("batch-retry");
    const std::string group = h->name("consumer");
    REQUIRE(log.create_topic(topic, 1).has_value());
    for (const char* value : {"a", "b", "c"}) REQUIRE(log.append(topic, "same-key", value).has_value());
    Seen seen;
    int calls = 0;  // touched only by the consumer thread
    lt::EventConsumer consumer(
        log, quick_options(topic, group),
        [&](std::span<const lt::ports::EventRecord> batch) -> lt::Result<void> {
            ++calls;
            for (const auto& record : batch) seen.add(record.value);
            if (calls == 1) return lt::fail(lt::Errc::unavailable, "store is down");
            if (calls == 2) throw std::runtime_error("surprise");
            return lt::ok();
        },
        quiet_logger());
    REQUIRE(consumer.start().has_value());
    CHECK(eventually([&] { return consumer.delivered() == 3; }, H::kPatience));
    consumer.stop();
    // A broker may hand the records over in several polls (librdkafka's mock cluster returns one
    // append per fetch): each failed batch is delivered again from its first record, so "a" comes
    // three times and "b" and "c" once to three times.
    auto values = seen.values();
    CHECK(std::count(values.begin(), values.end(), "a") == 3);
    for (const char* later : {"b", "c"}) {
        const auto n = std::count(values.begin(), values.end(), later);
        CHECK(n >= 1);
        CHECK(n <= 3);
    }
    CHECK(values.front() == "a");
    CHECK(consumer.failed() == 2);
    CHECK(consumer.delivered() == 3);
    CHECK(log.committed(topic, group, 0).value() == 3);
}

/// Instantiates every case above for `Harness`; once per test executable.
#define LT_EVENT_CONSUMER_CONTRACT(Harness)                  \
    TEST_CASE_TEMPLATE_INVOKE(lt_ec_retry, Harness);         \
    TEST_CASE_TEMPLATE_INVOKE(lt_ec_all, Harness);           \
    TEST_CASE_TEMPLATE_INVOKE(lt_ec_backoff, Harness);       \
    TEST_CASE_TEMPLATE_INVOKE(lt_ec_stop_idle, Harness);     \
    TEST_CASE_TEMPLATE_INVOKE(lt_ec_stop_backoff, Harness);  \
    TEST_CASE_TEMPLATE_INVOKE(lt_ec_resume, Harness);        \
    TEST_CASE_TEMPLATE_INVOKE(lt_ec_batch_all, Harness);     \
    TEST_CASE_TEMPLATE_INVOKE(lt_ec_batch_retry, Harness);   \
    static_assert(::lt::contract::EventLogHarness<Harness>, "not an EventLogHarness")
