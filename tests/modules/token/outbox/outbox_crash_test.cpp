#include "outbox_harness.hpp"

using namespace lt;
using namespace lt::token;
using namespace lt::token::test;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kRows = 120;
constexpr std::size_t kBatch = 50;

/// 120 rows: usage rows and the steps of 4 sagas interleaved; tokens = 1..120.
std::vector<std::string> insert_mixed(OutboxHarness& h) {
    std::vector<NewRow> rows;
    std::map<std::string, std::int64_t> steps;
    for (std::size_t i = 0; i < kRows; ++i) {
        NewRow row;
        row.tokens = static_cast<std::int64_t>(i + 1);
        if (i % 3 == 0) {
            row.aggregate_type = "TokenPurchaseSaga";
            row.aggregate_id = "saga-" + std::to_string(i % 4);
            row.n = steps[*row.aggregate_id]++;
        } else {
            row.n = static_cast<std::int64_t>(i);
        }
        rows.push_back(row);
    }
    return h.insert(rows);
}

std::vector<ports::EventRecord> read_all(OutboxHarness& h) {
    auto records = h.read("token-usage");
    for (auto& r : h.read("token-purchase-events")) records.push_back(std::move(r));
    return records;
}

/// Once the dead relay's claim expired (token.outbox.lease), publishes with a fresh relay (another
/// process, or this one restarted) until nothing is left, then checks that the log holds every row, the
/// `resent` rows of the crashed batch twice, and that a consumer deduplicating by eventId counts
/// every event once, one saga's steps in order.
void recover_and_check(OutboxHarness& h, const std::vector<std::string>& ids, std::size_t resent) {
    auto fresh = h.relay(test_options(kBatch));
    // Before the lease expired, the batch the dead relay claimed is nobody else's: the fresh relay
    // publishes the rows after it, and that batch stays unpublished.
    for (int i = 0; i < 10; ++i) {
        auto early = fresh->publish_once();
        REQUIRE(early);
        if (*early == 0) break;
    }
    CHECK(h.unpublished() > 0);
    h.clock.advance(test_options().lease + std::chrono::seconds(1));
    for (int i = 0; i < 10; ++i) {
        auto published = fresh->publish_once();
        REQUIRE(published);
        if (*published == 0) break;
    }
    CHECK(h.unpublished() == 0);

    auto records = read_all(h);
    CHECK(records.size() == kRows + resent);
    std::map<std::string, int> copies;
    for (const auto& r : records) ++copies[event_id_of(r.value)];
    CHECK(copies.size() == kRows);  // the distinct eventIds are exactly the rows
    for (const auto& id : ids) CHECK(copies[id] >= 1);
    std::size_t duplicated = 0;
    for (const auto& [id, n] : copies) {
        CHECK(n <= 2);
        duplicated += n == 2 ? 1 : 0;
    }
    CHECK(duplicated == resent);

    // The idempotent consumer: count each eventId once; a saga's steps arrive in order.
    std::set<std::string> seen;
    std::int64_t counted = 0;
    std::int64_t naive = 0;
    std::map<std::string, std::int64_t> next_step;
    for (const auto& r : records) {
        auto v = boost::json::parse(r.value);
        const auto tokens = v.at("payload").at("tokens").as_int64();
        naive += tokens;
        if (!seen.insert(event_id_of(r.value)).second) continue;
        counted += tokens;
        if (r.topic == "token-purchase-events") {
            CHECK(v.at("payload").at("n").as_int64() == next_step[r.key]++);
        }
    }
    constexpr std::int64_t kExpected = static_cast<std::int64_t>(kRows * (kRows + 1) / 2);
    CHECK(counted == kExpected);
    CHECK(naive >= kExpected);
    CHECK(next_step.size() == 4);

    // A second pass sends nothing new.
    auto again = fresh->publish_once();
    REQUIRE(again);
    CHECK(*again == 0);
    CHECK(read_all(h).size() == kRows + resent);
}

}  // namespace

TEST_CASE("a relay killed between append and stamp loses nothing and double-counts nothing") {
    for (std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{49}, std::size_t{50},
                          std::size_t{73}, std::size_t{119}}) {
        CAPTURE(k);
        OutboxHarness h(3);
        auto ids = insert_mixed(h);
        FaultyEventLog log(h.log);
        FaultySqlDatabase db(*h.db, &log.crashed);  // once crashed, the dead relay reaches nothing
        log.arm(static_cast<std::int64_t>(k), FaultyEventLog::Mode::crash);
        {
            auto doomed = h.relay(test_options(kBatch), &db, &log);
            for (int i = 0; i < 10 && !log.crashed.load(); ++i) (void)doomed->publish_once();
            REQUIRE(log.crashed.load());
            CHECK_FALSE(doomed->publish_once());
        }
        // Batches before the crash were stamped; the crashed one was appended up to row k, not stamped.
        CHECK(h.unpublished() == static_cast<std::int64_t>(kRows - k / kBatch * kBatch));
        CHECK(read_all(h).size() == k + 1);
        recover_and_check(h, ids, k % kBatch + 1);
    }
}

TEST_CASE("a relay thread killed mid-batch loses nothing and a fresh relay completes the publication") {
    OutboxHarness h(3);
    auto ids = insert_mixed(h);
    FaultyEventLog log(h.log);
    FaultySqlDatabase db(*h.db, &log.crashed);
    log.arm(73, FaultyEventLog::Mode::crash);
    auto doomed = h.relay(test_options(kBatch), &db, &log);
    doomed->start();
    REQUIRE(eventually([&] { return log.crashed.load() && doomed->consecutive_failures() >= 2; }));
    doomed->stop();  // the dead relay keeps failing; stop() does not flush while failing
    CHECK(doomed->published() == kBatch);
    CHECK(h.unpublished() == static_cast<std::int64_t>(kRows - kBatch));
    CHECK(read_all(h).size() == 74);
    recover_and_check(h, ids, 73 % kBatch + 1);
}
