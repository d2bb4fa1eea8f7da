// KafkaEventLog beyond the port's contract: consumer groups across processes (two logs stand for
// two processes), redelivery after a seek, resumption from the committed offset, per-key order over
// many partitions, and a broker going down. Against librdkafka's mock cluster in this process.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include "lt/adapters/kafka_event_log.hpp"
#include "lt/core/event_consumer.hpp"
#include "support/kafka_mock_cluster.hpp"

namespace {

using lt::adapters::KafkaEventLog;
using lt::ports::EventRecord;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

lt::test::KafkaMockCluster& cluster() {
    static lt::test::KafkaMockCluster instance(3);
    return instance;
}

std::unique_ptr<KafkaEventLog> open_log(lt::adapters::KafkaOptions options = cluster().adapter_options()) {
    auto opened = KafkaEventLog::open(cluster().bootstrap_servers(), std::move(options));
    REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string() : opened.error().message));
    return std::move(*opened);
}

/// `prefix` then `n` (built by appending: g++ 12 reports a false -Wrestrict on "lit" + to_string).
std::string num(std::string_view prefix, long long n) {
    std::string text(prefix);
    text += std::to_string(n);
    return text;
}

std::string unique(std::string_view base) {
    static std::atomic<int> n{0};
    return num(std::string(base) + "-", ++n);
}

template <class Done>
bool eventually(Done done, milliseconds timeout) {
    const auto deadline = Steady::now() + timeout;
    while (!done()) {
        if (Steady::now() > deadline) return false;
        std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
}

lt::Logger quiet() {
    return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

lt::EventConsumerOptions consumer_options(std::string topic, std::string group) {
    lt::EventConsumerOptions options;
    options.topic = std::move(topic);
    options.group = std::move(group);
    options.max_batch = 20;
    options.poll_wait = milliseconds(50);
    options.initial_backoff = milliseconds(10);
    options.max_backoff = milliseconds(40);
    return options;
}

/// (partition, offset) → how many times a handler processed it, across consumers.
class Processed {
public:
    void add(int who, const EventRecord& r) {
        std::lock_guard lock(mutex_);
        ++count_[{r.partition, r.offset}];
        by_[who].insert(r.partition);
        ++total_;
    }
    int count(int partition, std::int64_t offset) const {
        std::lock_guard lock(mutex_);
        auto it = count_.find({partition, offset});
        return it == count_.end() ? 0 : it->second;
    }
    std::set<int> partitions_of(int who) const {
        std::lock_guard lock(mutex_);
        auto it = by_.find(who);
        return it == by_.end() ? std::set<int>() : it->second;
    }
    std::size_t distinct() const {
        std::lock_guard lock(mutex_);
        return count_.size();
    }

private:
    mutable std::mutex mutex_;
    std::map<std::pair<int, std::int64_t>, int> count_;
    std::map<int, std::set<int>> by_;
    std::size_t total_ = 0;
};

}  // namespace

TEST_CASE("kafka: two processes of one group share the partitions and process every record once") {
    auto a = open_log();
    auto b = open_log();
    const auto topic = unique("shared");
    const auto group = unique("analytics");
    REQUIRE(a->create_topic(topic, 4).has_value());
    Processed processed;
    auto handler = [&processed](int who) {
        return [&processed, who](const EventRecord& r) -> lt::Result<void> {
            processed.add(who, r);
            return lt::ok();
        };
    };
    lt::EventConsumer first(*a, consumer_options(topic, group), handler(0), quiet());
    REQUIRE(first.start().has_value());
    // Records appended while only the first process consumes: all of them are its own.
    std::vector<EventRecord> before;
    for (int i = 0; i < 40; ++i) before.push_back(a->append(topic, num("k", i % 8), "v").value());
    REQUIRE(eventually([&] { return first.delivered() >= before.size(); }, milliseconds(15000)));

    lt::EventConsumer second(*b, consumer_options(topic, group), handler(1), quiet());
    REQUIRE(second.start().has_value());
    // The group rebalances: each process ends up with two of the four partitions.
    REQUIRE(eventually(
        [&] {
            auto x = a->assignment(group);
            auto y = b->assignment(group);
            return x.size() + y.size() == 4 && !x.empty() && !y.empty();
        },
        milliseconds(20000)));
    std::set<std::pair<std::string, int>> all;
    for (const auto& tp : a->assignment(group)) all.insert(tp);
    for (const auto& tp : b->assignment(group)) all.insert(tp);
    CHECK(all.size() == 4);

    std::vector<EventRecord> after;
    for (int i = 0; i < 200; ++i) after.push_back(b->append(topic, num("key-", i % 23), "w").value());
    REQUIRE(eventually(
        [&] {
            return std::all_of(after.begin(), after.end(),
                               [&](const EventRecord& r) { return processed.count(r.partition, r.offset) > 0; });
        },
        milliseconds(20000)));
    first.stop();
    second.stop();
    // After the rebalance every record was processed exactly once, by the process that owns its partition.
    for (const auto& r : after) CHECK(processed.count(r.partition, r.offset) == 1);
    for (const auto& r : before) CHECK(processed.count(r.partition, r.offset) >= 1);
    CHECK_FALSE(processed.partitions_of(1).empty());
    std::map<int, std::int64_t> ends;
    for (const auto& r : before) ends[r.partition] = std::max(ends[r.partition], r.offset + 1);
    for (const auto& r : after) ends[r.partition] = std::max(ends[r.partition], r.offset + 1);
    for (const auto& [partition, end] : ends) CHECK(a->committed(topic, group, partition).value() == end);
}

TEST_CASE("kafka: after a rebalance the old owner cannot commit a partition it lost and the new owner reads it "
          "from the committed offset") {
    auto a = open_log();
    auto b = open_log();
    const auto topic = unique("moved");
    const auto group = unique("g");
    REQUIRE(a->create_topic(topic, 2).has_value());
    std::vector<EventRecord> stored;
    for (int i = 0; i < 20; ++i) stored.push_back(a->append(topic, num("k", i), num("v", i)).value());
    // The first process takes everything and commits nothing yet (its handler is still busy).
    std::vector<EventRecord> held;
    const auto deadline = Steady::now() + milliseconds(15000);
    while (held.size() < stored.size() && Steady::now() < deadline) {
        auto batch = a->poll(topic, group, 100, milliseconds(100));
        REQUIRE(batch.has_value());
        held.insert(held.end(), batch->begin(), batch->end());
    }
    REQUIRE(held.size() == stored.size());
    // The second process joins; the first one keeps polling (the rebalance runs inside its polls).
    std::vector<EventRecord> taken_over;  // the second thread's until it is joined
    std::atomic<std::size_t> taken{0};
    std::atomic<bool> done{false};
    std::thread second([&] {
        const auto until = Steady::now() + milliseconds(20000);
        while (!done && Steady::now() < until) {
            auto batch = b->poll(topic, group, 100, milliseconds(100));
            if (!batch) continue;
            taken_over.insert(taken_over.end(), batch->begin(), batch->end());
            taken = taken_over.size();
        }
    });
    CHECK(eventually(
        [&] {
            (void)a->poll(topic, group, 100, milliseconds(50));
            return a->assignment(group).size() == 1 && b->assignment(group).size() == 1;
        },
        milliseconds(20000)));
    const int lost = b->assignment(group).front().second;
    std::size_t of_lost = 0;
    for (const auto& r : stored) of_lost += r.partition == lost ? 1 : 0;
    REQUIRE(of_lost > 0);
    CHECK(eventually([&] { return taken.load() >= of_lost; }, milliseconds(15000)));
    done = true;
    second.join();
    // The stale owner's commit of a record of the partition it lost is refused, and changes nothing.
    const auto stale = std::find_if(held.begin(), held.end(), [&](const EventRecord& r) { return r.partition == lost; });
    REQUIRE(stale != held.end());
    auto refused = a->commit(group, *stale);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == lt::Errc::conflict);
    CHECK(b->committed(topic, group, lost).value() == 0);
    // The new owner got that partition from the start (nothing was committed), in order.
    REQUIRE(taken_over.size() == of_lost);
    for (std::size_t i = 0; i < taken_over.size(); ++i) {
        CHECK(taken_over[i].partition == lost);
        CHECK(taken_over[i].offset == static_cast<std::int64_t>(i));
    }
    REQUIRE(b->commit(group, taken_over.back()).has_value());
    CHECK(a->committed(topic, group, lost).value() == static_cast<std::int64_t>(of_lost));
}

TEST_CASE("kafka: a record sought back after a failed handler is delivered again, then the ones after it") {
    auto log = open_log();
    const auto topic = unique("redeliver");
    const auto group = unique("g");
    REQUIRE(log->create_topic(topic, 3).has_value());
    std::vector<EventRecord> stored;
    for (int i = 0; i < 30; ++i) stored.push_back(log->append(topic, num("k", i % 5), std::to_string(i)).value());
    std::vector<EventRecord> got;
    const auto deadline = Steady::now() + milliseconds(15000);
    while (got.size() < stored.size() && Steady::now() < deadline) {
        auto batch = log->poll(topic, group, 100, milliseconds(100));
        REQUIRE(batch.has_value());
        got.insert(got.end(), batch->begin(), batch->end());
    }
    REQUIRE(got.size() == stored.size());
    // The handler "failed" on the second record of the partition of got[0]: commit the first, seek.
    const int partition = got[0].partition;
    std::vector<EventRecord> of_partition;
    for (const auto& r : got) {
        if (r.partition == partition) of_partition.push_back(r);
    }
    REQUIRE(of_partition.size() >= 2);
    REQUIRE(log->commit(group, of_partition[0]).has_value());
    REQUIRE(log->seek(group, of_partition[1]).has_value());
    std::vector<EventRecord> again;
    const auto until = Steady::now() + milliseconds(10000);
    while (again.size() < of_partition.size() - 1 && Steady::now() < until) {
        auto batch = log->poll(topic, group, 100, milliseconds(100));
        REQUIRE(batch.has_value());
        again.insert(again.end(), batch->begin(), batch->end());
    }
    REQUIRE(again.size() == of_partition.size() - 1);
    for (std::size_t i = 0; i < again.size(); ++i) {
        CHECK(again[i].partition == partition);
        CHECK(again[i].offset == of_partition[i + 1].offset);
        CHECK(again[i].value == of_partition[i + 1].value);
    }
    CHECK(log->committed(topic, group, partition).value() == of_partition[0].offset + 1);
    // Only that partition came again.
    auto more = log->poll(topic, group, 100, milliseconds(300));
    REQUIRE(more.has_value());
    CHECK(more->empty());
}

TEST_CASE("kafka: a new consumer of the group resumes from the committed offset after the old one closed") {
    const auto topic = unique("resume");
    const auto group = unique("g");
    std::vector<EventRecord> stored;
    {
        auto first = open_log();
        REQUIRE(first->create_topic(topic, 1).has_value());
        for (int i = 0; i < 10; ++i) stored.push_back(first->append(topic, "k", std::to_string(i)).value());
        std::vector<EventRecord> got;
        const auto deadline = Steady::now() + milliseconds(15000);
        while (got.size() < 10 && Steady::now() < deadline) {
            auto batch = first->poll(topic, group, 10, milliseconds(100));
            REQUIRE(batch.has_value());
            got.insert(got.end(), batch->begin(), batch->end());
        }
        REQUIRE(got.size() == 10);
        // Processed (and committed) the first six; the process then closes.
        REQUIRE(first->commit(group, got[5]).has_value());
    }
    auto second = open_log();
    CHECK(second->committed(topic, group, 0).value() == 6);
    std::vector<EventRecord> rest;
    const auto deadline = Steady::now() + milliseconds(15000);
    while (rest.size() < 4 && Steady::now() < deadline) {
        auto batch = second->poll(topic, group, 10, milliseconds(100));
        REQUIRE(batch.has_value());
        rest.insert(rest.end(), batch->begin(), batch->end());
    }
    REQUIRE(rest.size() == 4);
    CHECK(rest.front().offset == 6);
    CHECK(rest.front().value == "6");
    CHECK(rest.back().value == "9");
}

TEST_CASE("kafka: records of one key keep their order and partition when many producers append at once") {
    auto log = open_log();
    const auto topic = unique("ordered");
    const auto group = unique("g");
    REQUIRE(log->create_topic(topic, 6).has_value());
    constexpr int kThreads = 4;
    constexpr int kKeysPerThread = 5;
    constexpr int kPerKey = 15;
    std::vector<std::thread> producers;
    std::atomic<int> failures{0};
    std::mutex mutex;
    std::map<std::string, std::set<int>> partitions_of;
    for (int t = 0; t < kThreads; ++t) {
        producers.emplace_back([&, t] {
            for (int seq = 0; seq < kPerKey; ++seq) {
                for (int k = 0; k < kKeysPerThread; ++k) {
                    const std::string key = num(num("t", t) + "k", k);
                    auto r = log->append(topic, key, num(key + ":", seq));
                    if (!r) {
                        ++failures;
                        continue;
                    }
                    std::lock_guard lock(mutex);
                    partitions_of[key].insert(r->partition);
                }
            }
        });
    }
    for (auto& p : producers) p.join();
    REQUIRE(failures.load() == 0);
    std::set<int> used;
    for (const auto& [key, partitions] : partitions_of) {
        CHECK(partitions.size() == 1);
        used.insert(*partitions.begin());
    }
    CHECK(used.size() > 1);
    const std::size_t total = kThreads * kKeysPerThread * kPerKey;
    std::vector<EventRecord> got;
    const auto deadline = Steady::now() + milliseconds(15000);
    while (got.size() < total && Steady::now() < deadline) {
        auto batch = log->poll(topic, group, 37, milliseconds(100));
        REQUIRE(batch.has_value());
        got.insert(got.end(), batch->begin(), batch->end());
    }
    REQUIRE(got.size() == total);
    std::map<std::string, int> last;
    for (const auto& r : got) {
        const int seq = std::stoi(r.value.substr(r.value.find(':') + 1));
        auto it = last.find(r.key);
        CHECK(seq == (it == last.end() ? 0 : it->second + 1));
        last[r.key] = seq;
    }
}

TEST_CASE("kafka: with its partition leader down an append fails as unavailable within the timeout and works "
          "again when the broker is back") {
    auto options = cluster().adapter_options();
    options.timeout = milliseconds(1500);
    auto log = open_log(options);
    const auto topic = unique("outage");
    REQUIRE(log->create_topic(topic, 1).has_value());
    cluster().set_leader(topic, 0, 2);
    REQUIRE(eventually([&] { return log->append(topic, "k", "warm").has_value(); }, milliseconds(10000)));

    cluster().set_broker_down(2);
    const auto start = Steady::now();
    auto failed = log->append(topic, "k", "lost?");
    const auto elapsed = Steady::now() - start;
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().code == lt::Errc::unavailable);
    CHECK(elapsed < options.timeout + milliseconds(1500));

    cluster().set_broker_up(2);
    lt::Result<EventRecord> back = lt::fail(lt::Errc::internal, "not tried");
    REQUIRE(eventually(
        [&] {
            back = log->append(topic, "k", "back");
            return back.has_value();
        },
        milliseconds(15000)));
    CHECK(back->partition == 0);
}

TEST_CASE("kafka: the log reports itself unavailable while no broker answers and available when one does") {
    auto options = cluster().adapter_options();
    options.timeout = milliseconds(1000);
    auto log = open_log(options);
    const auto topic = unique("dark");
    REQUIRE(log->create_topic(topic, 1).has_value());
    REQUIRE(log->append(topic, "k", "v").has_value());
    CHECK(log->available());
    for (int id = 1; id <= cluster().broker_count(); ++id) cluster().set_broker_down(id);
    CHECK(eventually([&] { return !log->available(); }, milliseconds(10000)));
    for (int id = 1; id <= cluster().broker_count(); ++id) cluster().set_broker_up(id);
    CHECK(eventually([&] { return log->available(); }, milliseconds(10000)));
    CHECK(eventually([&] { return log->append(topic, "k", "again").has_value(); }, milliseconds(10000)));
}

TEST_CASE("kafka: open refuses an empty broker list and properties librdkafka does not know") {
    auto empty = KafkaEventLog::open("", cluster().adapter_options());
    REQUIRE_FALSE(empty.has_value());
    CHECK(empty.error().code == lt::Errc::invalid_argument);
    auto options = cluster().adapter_options();
    options.properties.emplace(std::string("no.such.property"), std::string(1, '1'));
    auto bad = KafkaEventLog::open(cluster().bootstrap_servers(), options);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == lt::Errc::invalid_argument);
}
