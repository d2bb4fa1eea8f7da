// Not a test: a measurement, skipped by default (performance is never asserted in unit tests).
// Run: build/tests/analytics_module_test -tc="analytics ingest throughput*" --no-skip
// Usage envelopes go through MemoryEventLog → EventConsumer → EventIngestor → SqlUsageStore on a
// SQLite file (WAL, synchronous=NORMAL, as in production), once with the batch handler and once with
// one transaction per record. Environment: LT_BENCH_USERS (distinct users, default 200),
// LT_BENCH_ROUNDS (default 3), LT_BENCH_DROP (one SQL statement run after the migrations, e.g.
// "DROP INDEX analytics_usage_user_time_idx", to weigh what an index costs).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "analytics_harness.hpp"
#include "event_ingestor.hpp"
#include "lt/core/event_consumer.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace lt::analytics::test;

/// Distinct users among the events (LT_BENCH_USERS, default 200).
int bench_users() { return std::getenv("LT_BENCH_USERS") ? std::atoi(std::getenv("LT_BENCH_USERS")) : 200; }

double run(bool batched, int events, std::size_t max_batch) {
    lt::test::TempDir dir("ingest-bench");
    lt::BlockingPool pool(1);
    lt::FakeClock clock;
    lt::adapters::MemoryEventLog log(clock);
    auto db = lt::adapters::SqliteDatabase::open(dir.path() / "bench.db", pool);
    REQUIRE(db);
    lt::adapters::SqlUsageStore store(**db);
    REQUIRE(store.migrate());
    if (std::getenv("LT_BENCH_DROP")) {
        REQUIRE((*db)->transact_sync([](lt::ports::SqlSession& s) -> lt::Result<void> {
            auto r = s.execute(std::getenv("LT_BENCH_DROP"));
            if (!r) return lt::fail(r.error());
            return lt::ok();
        }));
    }
    const char* providers[] = {"openai", "qwen", "gemini"};
    const auto start_time = clock.now() - std::chrono::minutes(10);
    for (int i = 0; i < events; ++i) {
        char id[40], user[40];
        std::snprintf(id, sizeof id, "01900000-0000-7000-8000-%012d", i + 1);
        std::snprintf(user, sizeof user, "aaaaaaaa-0000-4000-8000-%012d", i % bench_users());
        REQUIRE(log.append("token-usage", id,
                           usage_envelope(id, user, providers[i % 3], 1 + i % 50, i % 10 != 0,
                                          start_time + std::chrono::milliseconds(i * 6))));
    }
    lt::analytics::EventIngestor ingestor(store, nullptr, nullptr);
    lt::EventConsumerOptions options;
    options.topic = "token-usage";
    options.group = "bench";
    options.max_batch = max_batch;
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<lt::EventConsumer> consumer;
    if (batched) {
        consumer = std::make_unique<lt::EventConsumer>(
            log, options,
            lt::EventConsumer::BatchHandler([&](std::span<const lt::ports::EventRecord> b) { return ingestor.handle(b); }),
            nullptr);
    } else {
        consumer = std::make_unique<lt::EventConsumer>(
            log, options,
            lt::EventConsumer::Handler([&](const lt::ports::EventRecord& r) {
                return ingestor.handle(std::span<const lt::ports::EventRecord>(&r, 1));
            }),
            nullptr);
    }
    REQUIRE(consumer->start());
    REQUIRE(eventually([&] { return ingestor.stored() == static_cast<std::uint64_t>(events); },
                       std::chrono::milliseconds(600000)));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    consumer->stop();
    return events / seconds;
}

}  // namespace

TEST_CASE("analytics ingest throughput, batch handler against one transaction per record" * doctest::skip()) {
    const int rounds = std::getenv("LT_BENCH_ROUNDS") ? std::atoi(std::getenv("LT_BENCH_ROUNDS")) : 3;
    for (int round = 0; round < rounds; ++round) {
        const double per_record = run(false, 20000, 500);
        const double batch_100 = run(true, 200000, 100);
        const double batch_500 = run(true, 200000, 500);
        MESSAGE("round " << round << ": per record " << static_cast<long>(per_record) << " events/s, batch of 100 "
                         << static_cast<long>(batch_100) << " events/s, batch of 500 " << static_cast<long>(batch_500)
                         << " events/s");
    }
}
