#include "contract/event_log_consumer_contract.hpp"
#include "contract/event_log_contract.hpp"

#include <climits>
#include <stdexcept>

#include "lt/adapters/memory_event_log.hpp"
#include "lt/core/clock.hpp"

namespace {

/// A MemoryEventLog on a FakeClock; names need no prefix since every case gets its own log.
struct MemoryEventLogHarness {
    static constexpr std::chrono::milliseconds kPatience{5000};

    static std::unique_ptr<MemoryEventLogHarness> make() { return std::make_unique<MemoryEventLogHarness>(); }
    lt::ports::EventLog& log() { return log_; }
    std::string name(std::string_view base) { return std::string(base); }

    lt::FakeClock clock_;
    lt::adapters::MemoryEventLog log_{clock_};
};

}  // namespace

TYPE_TO_STRING_AS("memory", MemoryEventLogHarness);
LT_EVENT_LOG_CONTRACT(MemoryEventLogHarness);
LT_EVENT_CONSUMER_CONTRACT(MemoryEventLogHarness);

namespace {

using lt::adapters::MemoryEventLog;
using std::chrono::milliseconds;

TEST_CASE("memory event log partitions keys like Kafka's murmur2 partitioner") {
    // Kafka's UtilsTest.testMurmur2 vectors, made positive; INT_MAX partitions keep the whole hash.
    const auto positive = [](std::int64_t h) { return static_cast<int>(h & 0x7fffffff); };
    CHECK(MemoryEventLog::partition_for_key("21", INT_MAX) == positive(-973932308));
    CHECK(MemoryEventLog::partition_for_key("foobar", INT_MAX) == positive(-790332482));
    CHECK(MemoryEventLog::partition_for_key("a-little-bit-long-string", INT_MAX) == positive(-985981536));
    CHECK(MemoryEventLog::partition_for_key("a-little-bit-longer-string", INT_MAX) == positive(-1486304829));
    CHECK(MemoryEventLog::partition_for_key("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", INT_MAX) ==
          positive(-58897971));
    CHECK(MemoryEventLog::partition_for_key("abc", INT_MAX) == positive(479470107));
    CHECK(MemoryEventLog::partition_for_key("anything", 1) == 0);
}

TEST_CASE("memory event log gives auto-created topics the default partition count") {
    lt::FakeClock clock;
    MemoryEventLog log(clock, 8);
    std::set<int> partitions;
    for (int i = 0; i < 200; ++i) partitions.insert(log.append("auto", numbered("key-", i), "v")->partition);
    CHECK(partitions.size() == 8);
}

TEST_CASE("memory event log stamps records with the clock's wall time") {
    lt::FakeClock clock;
    MemoryEventLog log(clock);
    const auto first = log.append("t", "k", "v").value();
    clock.advance(std::chrono::seconds(3));
    const auto second = log.append("t", "k", "v").value();
    CHECK(first.timestamp == clock.now() - std::chrono::seconds(3));
    CHECK(second.timestamp == clock.now());
}

TEST_CASE("memory event log never moves a committed offset backwards") {
    lt::FakeClock clock;
    MemoryEventLog log(clock);
    std::vector<lt::ports::EventRecord> records;
    for (int i = 0; i < 5; ++i) records.push_back(log.append("t", "k", std::to_string(i)).value());
    REQUIRE(log.commit("g", records[3]).has_value());
    CHECK(log.committed("t", "g", 0).value() == 4);
    REQUIRE(log.commit("g", records[1]).has_value());
    CHECK(log.committed("t", "g", 0).value() == 4);
}

TEST_CASE("memory event log refuses to commit or seek what was never appended") {
    lt::FakeClock clock;
    MemoryEventLog log(clock);
    REQUIRE(log.create_topic("t", 2).has_value());
    auto record = log.append("t", "k", "v").value();
    auto unknown_topic = record;
    unknown_topic.topic = "nope";
    auto bad_partition = record;
    bad_partition.partition = 5;
    auto bad_offset = record;
    bad_offset.offset = 1;
    for (const auto& bad : {unknown_topic, bad_partition, bad_offset}) {
        auto committed = log.commit("g", bad);
        REQUIRE_FALSE(committed.has_value());
        CHECK(committed.error().code == lt::Errc::invalid_argument);
        auto sought = log.seek("g", bad);
        REQUIRE_FALSE(sought.has_value());
        CHECK(sought.error().code == lt::Errc::invalid_argument);
    }
    CHECK_FALSE(log.committed("t", "g", 2).has_value());
    CHECK_FALSE(log.create_topic("zero", 0).has_value());
}

TEST_CASE("memory event log polls of a topic that does not exist yet wait and return nothing") {
    lt::FakeClock clock;
    MemoryEventLog log(clock);
    auto got = log.poll("later", "g", 10, milliseconds(30));
    REQUIRE(got.has_value());
    CHECK(got->empty());
    CHECK(log.committed("later", "g", 0).value() == 0);
    CHECK(log.poll("later", "g", 0, milliseconds(1000))->empty());
}

TEST_CASE("memory event log wakes a waiting poller when its group seeks back") {
    lt::FakeClock clock;
    MemoryEventLog log(clock);
    auto record = log.append("t", "k", "v").value();
    REQUIRE(log.poll("t", "g", 10, milliseconds(0))->size() == 1);
    std::thread rewinder([&] {
        std::this_thread::sleep_for(milliseconds(50));
        (void)log.seek("g", record);
    });
    const auto start = std::chrono::steady_clock::now();
    auto again = log.poll("t", "g", 10, milliseconds(20000));
    rewinder.join();
    REQUIRE(again->size() == 1);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("event consumer treats a throwing handler as a failure and delivers the record again") {
    lt::FakeClock clock;
    MemoryEventLog log(clock);
    REQUIRE(log.append("t", "k", "only").has_value());
    std::atomic<int> calls{0};
    lt::EventConsumer consumer(
        log, quick_options("t", "g"),
        [&](const lt::ports::EventRecord&) -> lt::Result<void> {
            if (++calls == 1) throw std::runtime_error("surprise");
            return lt::ok();
        },
        quiet_logger());
    REQUIRE(consumer.start().has_value());
    CHECK(eventually([&] { return consumer.delivered() == 1; }, milliseconds(5000)));
    consumer.stop();
    CHECK(calls.load() == 2);
    CHECK(consumer.failed() == 1);
    CHECK(log.committed("t", "g", 0).value() == 1);
}

TEST_CASE("event consumer refuses to start without a topic, a group, a batch size or a handler") {
    lt::FakeClock clock;
    MemoryEventLog log(clock);
    const auto handler = [](const lt::ports::EventRecord&) { return lt::ok(); };
    auto no_batch = quick_options("t", "g");
    no_batch.max_batch = 0;
    for (const auto& options : {quick_options("", "g"), quick_options("t", ""), no_batch}) {
        lt::EventConsumer consumer(log, options, handler, quiet_logger());
        auto started = consumer.start();
        REQUIRE_FALSE(started.has_value());
        CHECK(started.error().code == lt::Errc::invalid_argument);
        CHECK_FALSE(consumer.running());
    }
    lt::EventConsumer no_handler(log, quick_options("t", "g"), lt::EventConsumer::Handler{}, nullptr);
    CHECK_FALSE(no_handler.start().has_value());
}

TEST_CASE("event consumer puts back the records it polled but did not handle when stopped") {
    lt::FakeClock clock;
    MemoryEventLog log(clock);
    for (int i = 0; i < 5; ++i) REQUIRE(log.append("t", "k", std::to_string(i)).has_value());
    lt::EventConsumer* self = nullptr;
    auto options = quick_options("t", "g");
    options.max_batch = 5;
    lt::EventConsumer consumer(
        log, options,
        [&](const lt::ports::EventRecord& record) -> lt::Result<void> {
            // Stopping from the handler only raises the flag; the rest of the batch is put back.
            if (record.value == "1") self->stop();
            return lt::ok();
        },
        quiet_logger());
    self = &consumer;
    REQUIRE(consumer.start().has_value());
    CHECK(eventually([&] { return consumer.delivered() == 2; }, milliseconds(5000)));
    consumer.stop();
    CHECK(consumer.delivered() == 2);
    CHECK(log.committed("t", "g", 0).value() == 2);
    auto rest = log.poll("t", "g", 10, milliseconds(0)).value();
    REQUIRE(rest.size() == 3);
    CHECK(rest.front().value == "2");
}

}  // namespace

TEST_CASE("with trim_consumed, records every group committed are dropped and a late group starts at the oldest kept") {
    lt::FakeClock clock;
    lt::adapters::MemoryEventLog log(clock, 1, true);
    for (int i = 0; i < 1000; ++i) REQUIRE(log.append("t", "k", std::to_string(i)));
    auto a = log.poll("t", "a", 1000, std::chrono::milliseconds(0));
    auto b = log.poll("t", "b", 600, std::chrono::milliseconds(0));
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(a->size() == 1000);
    REQUIRE(b->size() == 600);
    REQUIRE(log.commit("a", a->back()));
    CHECK(log.retained("t") == 1000);  // group b has not committed anything yet
    REQUIRE(log.commit("b", b->back()));
    CHECK(log.retained("t") == 400);  // both are past offset 600
    // b goes on from where it was; offsets keep counting; a commit of a trimmed record is harmless.
    auto rest = log.poll("t", "b", 1000, std::chrono::milliseconds(0));
    REQUIRE(rest);
    REQUIRE(rest->size() == 400);
    CHECK(rest->front().offset == 600);
    CHECK(rest->front().value == "600");
    CHECK(log.commit("b", b->front()));
    // A group that appears now reads what is kept, from the oldest record on.
    auto late = log.poll("t", "c", 1000, std::chrono::milliseconds(0));
    REQUIRE(late);
    REQUIRE(late->size() == 400);
    CHECK(late->front().offset == 600);
    // New records get the next offsets.
    auto next = log.append("t", "k", "x");
    REQUIRE(next);
    CHECK(next->offset == 1000);
}

TEST_CASE("without trim_consumed the log keeps everything") {
    lt::FakeClock clock;
    lt::adapters::MemoryEventLog log(clock);
    for (int i = 0; i < 600; ++i) REQUIRE(log.append("t", "k", "v"));
    auto a = log.poll("t", "a", 1000, std::chrono::milliseconds(0));
    REQUIRE(a);
    REQUIRE(log.commit("a", a->back()));
    CHECK(log.retained("t") == 600);
}
