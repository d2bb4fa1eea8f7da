#pragma once
/// Test harness of the outbox relay: a temporary SQLite file with the token migrations, a
/// MemoryEventLog, a FakeClock and a metrics registry; helpers to insert outbox rows and to read the
/// log back; fault-injecting decorators of the EventLog and SqlDatabase ports.

#include "support/temp_dir.hpp"
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "lt/adapters/memory_event_log.hpp"
#include "lt/adapters/sqlite_database.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/time.hpp"
#include "lt/ports/event_log.hpp"
#include "lt/ports/sql_database.hpp"
#include "outbox/outbox_options.hpp"
#include "outbox/outbox_relay.hpp"

namespace lt::token::test {

/// An outbox row to insert.
struct NewRow {
    std::string aggregate_type = "TokenUsage";
    std::optional<std::string> aggregate_id;
    std::int64_t n = 0;       ///< carried in the payload (a per-key sequence number in the tests)
    std::int64_t tokens = 1;  ///< carried in the payload (summed by the deduplicating consumer)
};

/// The envelope stored as payload: {eventId, eventType, payload{n, tokens}}.
inline std::string envelope(const std::string& id, const NewRow& row) {
    boost::json::object inner{{"n", row.n}, {"tokens", row.tokens}};
    boost::json::object env{{"eventId", id},
                            {"eventType", row.aggregate_type == "TokenUsage" ? "token.usage.v1" : "token.purchase.v1"},
                            {"payload", std::move(inner)}};
    return boost::json::serialize(env);
}

/// The eventId of a published value.
inline std::string event_id_of(const std::string& value) {
    return std::string(boost::json::parse(value).as_object().at("eventId").as_string());
}

/// Options suited to tests: small backoff, a long poll interval (passes run when told to).
inline OutboxOptions test_options(std::size_t batch_size = 50) {
    OutboxOptions o;
    o.batch_size = batch_size;
    o.poll_interval = std::chrono::hours(1);
    o.initial_backoff = std::chrono::milliseconds(1);
    o.max_backoff = std::chrono::milliseconds(8);
    o.retention = std::chrono::hours(1);
    o.purge_interval = std::chrono::hours(1);
    return o;
}

/// SqlDatabase decorator whose transact_sync() fails while `down` is set (the database is
/// unreachable), once `*dead` is set (the process died: nothing it does reaches the database), or
/// after `healthy_calls` calls (when ≥ 0).
class FaultySqlDatabase final : public ports::SqlDatabase {
public:
    explicit FaultySqlDatabase(ports::SqlDatabase& inner, const std::atomic<bool>* dead = nullptr)
        : inner_(inner), dead_(dead) {}
    std::string_view dialect() const override { return inner_.dialect(); }
    boost::asio::awaitable<Result<void>> transact(std::function<Result<void>(ports::SqlSession&)> fn) override {
        return inner_.transact(std::move(fn));
    }
    Result<void> transact_sync(std::function<Result<void>(ports::SqlSession&)> fn) override {
        const auto call = calls.fetch_add(1);
        const auto healthy = healthy_calls.load();
        if (down.load() || (dead_ && dead_->load()) || (healthy >= 0 && call >= healthy)) {
            return fail(Errc::unavailable, "database down (test)");
        }
        return inner_.transact_sync(std::move(fn));
    }
    Result<void> execute_script(ports::SqlSession& session, std::string_view script) override {
        return inner_.execute_script(session, script);
    }

    std::atomic<bool> down{false};
    std::atomic<std::int64_t> healthy_calls{-1};
    std::atomic<std::int64_t> calls{0};

private:
    ports::SqlDatabase& inner_;
    const std::atomic<bool>* dead_;
};

/// EventLog decorator that lets `allowed` appends through and then misbehaves: `fail` returns an
/// error without storing; `crash` stores the record (the broker has it), then throws before the
/// caller learns of it and marks `crashed` (the process is dead from then on: see FaultySqlDatabase).
class FaultyEventLog final : public ports::EventLog {
public:
    enum class Mode { fail, crash };

    /// `like_inner`: durable() and consumed_by_all() answer as the inner log does (the relay's cursor
    /// mode then applies over the memory log); otherwise the decorator reads as durable.
    explicit FaultyEventLog(ports::EventLog& inner, bool like_inner = false) : inner_(inner), like_inner_(like_inner) {}

    bool durable() const override { return like_inner_ ? inner_.durable() : true; }
    Result<std::int64_t> consumed_by_all(std::string_view topic, int partition) override {
        if (!like_inner_) return ports::EventLog::consumed_by_all(topic, partition);
        return inner_.consumed_by_all(topic, partition);
    }

    /// From now on, `allowed` more appends succeed, then the fault applies (every append in `fail`
    /// mode, the next one in `crash` mode). heal() lifts it.
    void arm(std::int64_t allowed, Mode mode) {
        mode_ = mode;
        remaining_.store(allowed);
        armed_.store(true);
    }
    void heal() { armed_.store(false); }

    Result<void> create_topic(std::string_view topic, int partitions) override {
        return inner_.create_topic(topic, partitions);
    }
    Result<ports::EventRecord> append(std::string_view topic, std::string_view key, std::string value) override {
        attempts.fetch_add(1);
        if (armed_.load() && remaining_.fetch_sub(1) <= 0) {
            if (mode_ == Mode::fail) return fail(Errc::unavailable, "event log down (test)");
            auto stored = inner_.append(topic, key, std::move(value));
            CHECK(stored.has_value());
            armed_.store(false);
            crashed.store(true);
            throw std::runtime_error("simulated crash after append");
        }
        return inner_.append(topic, key, std::move(value));
    }
    Result<std::vector<ports::EventRecord>> poll(std::string_view topic, std::string_view group, std::size_t max,
                                                 std::chrono::milliseconds wait) override {
        return inner_.poll(topic, group, max, wait);
    }
    Result<void> commit(std::string_view group, const ports::EventRecord& record) override {
        return inner_.commit(group, record);
    }
    Result<void> seek(std::string_view group, const ports::EventRecord& record) override {
        return inner_.seek(group, record);
    }
    Result<std::int64_t> committed(std::string_view topic, std::string_view group, int partition) override {
        return inner_.committed(topic, group, partition);
    }

    std::atomic<std::int64_t> attempts{0};
    std::atomic<bool> crashed{false};

private:
    ports::EventLog& inner_;
    bool like_inner_ = false;
    std::atomic<bool> armed_{false};
    std::atomic<std::int64_t> remaining_{0};
    Mode mode_ = Mode::fail;
};

/// One SQLite file (or, given a PostgreSQL schema, that schema) with the token schema, an in-memory
/// event log, a fake clock and metrics.
struct OutboxHarness {
    explicit OutboxHarness(int partitions = 1) : blocking(2), log(clock, partitions) {
        auto opened = adapters::SqliteDatabase::open(dir.path() / "token.db", blocking);
        REQUIRE_MESSAGE(opened, (opened ? "" : opened.error().message));
        db = std::move(*opened);
        migrate();
    }
    /// Over `database` (already open, e.g. PostgreSQL), which the harness then owns.
    OutboxHarness(std::unique_ptr<ports::SqlDatabase> database, int partitions)
        : blocking(2), db(std::move(database)), log(clock, partitions) {
        migrate();
    }

    void migrate() {
        auto migrations = ports::embedded_migrations("token", db->dialect());
        auto applied = ports::run_migrations(*db, "token", migrations);
        REQUIRE_MESSAGE(applied, (applied ? "" : applied.error().message));
    }

    /// Inserts `rows` in one transaction (in order) and returns their ids.
    std::vector<std::string> insert(const std::vector<NewRow>& rows) {
        std::vector<std::string> ids;
        for (std::size_t i = 0; i < rows.size(); ++i) ids.push_back(new_uuid());
        auto r = db->transact_sync([&](ports::SqlSession& s) -> Result<void> {
            for (std::size_t i = 0; i < rows.size(); ++i) {
                const auto& row = rows[i];
                auto q = s.execute(
                    "INSERT INTO token_outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    {ports::SqlValue(ids[i]), ports::SqlValue(row.aggregate_type),
                     row.aggregate_id ? ports::SqlValue(*row.aggregate_id) : ports::SqlValue(nullptr),
                     ports::SqlValue(std::string("test")), ports::SqlValue(envelope(ids[i], row)),
                     ports::SqlValue(format_rfc3339(clock.now()))});
                if (!q) return fail(q.error());
            }
            return ok();
        });
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        return ids;
    }

    /// Inserts `count` usage rows (n = 0, 1, ...) and returns their ids.
    std::vector<std::string> insert_usage(std::size_t count, std::int64_t tokens = 1) {
        std::vector<NewRow> rows(count);
        for (std::size_t i = 0; i < count; ++i) {
            rows[i].n = static_cast<std::int64_t>(i);
            rows[i].tokens = tokens;
        }
        return insert(rows);
    }

    /// One integer read by a query of a single value.
    std::int64_t scalar(std::string_view sql) {
        std::int64_t out = -1;
        auto r = db->transact_sync([&](ports::SqlSession& s) -> Result<void> {
            auto q = s.execute(sql);
            if (!q) return fail(q.error());
            if (!q->rows.empty()) out = ports::as_int(q->rows[0][0]).value_or(-1);
            return ok();
        });
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        return out;
    }
    std::int64_t unpublished() { return scalar("SELECT COUNT(*) FROM token_outbox WHERE published_at IS NULL"); }
    std::int64_t rows() { return scalar("SELECT COUNT(*) FROM token_outbox"); }

    /// The published_at of row `id` (nullopt while unpublished).
    std::optional<std::string> published_at(const std::string& id) {
        std::optional<std::string> out;
        auto r = db->transact_sync([&](ports::SqlSession& s) -> Result<void> {
            auto q = s.execute("SELECT published_at FROM token_outbox WHERE id = $1", {ports::SqlValue(id)});
            if (!q) return fail(q.error());
            if (!q->rows.empty()) out = ports::as_text(q->rows[0][0]);
            return ok();
        });
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        return out;
    }

    /// Everything in `topic`, each partition in offset order (read by a fresh consumer group).
    std::vector<ports::EventRecord> read(const std::string& topic) {
        auto r = log.poll(topic, "reader-" + new_uuid(), 10'000'000, std::chrono::milliseconds(0));
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        return std::move(*r);
    }

    /// A relay over this harness' database and log (or the given decorators).
    std::unique_ptr<OutboxRelay> relay(OutboxOptions options, ports::SqlDatabase* database = nullptr,
                                       ports::EventLog* events = nullptr) {
        return std::make_unique<OutboxRelay>(database ? *database : *db, events ? *events : log, clock, &metrics,
                                             nullptr, std::move(options));
    }

    double counter(const std::string& name, std::vector<std::string> labels = {}) {
        if (labels.empty()) return metrics.counter(name, "", {}).labels({}).value();
        return metrics.counter(name, "", {"topic"}).labels(labels).value();
    }
    double gauge(const std::string& name) { return metrics.gauge(name, "").labels({}).value(); }

    lt::test::TempDir dir{"outbox"};
    FakeClock clock;
    BlockingPool blocking;
    std::unique_ptr<ports::SqlDatabase> db;
    adapters::MemoryEventLog log;
    MetricsRegistry metrics;
};

/// `threads` threads each commit `commits` transactions of 1 to `max_rows` rows that mix saga steps
/// (aggregate "saga-<thread>", payload n = the thread's step: 0, 1, 2, ...) with usage rows, calling
/// `after_commit(commit index)` after each. Returns once every thread is done: the rows inserted.
inline std::int64_t insert_mixed_concurrently(OutboxHarness& h, int threads, int commits, int max_rows,
                                              const std::function<void(int)>& after_commit) {
    std::atomic<std::int64_t> inserted{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::int64_t step = 0;
            for (int i = 0; i < commits; ++i) {
                std::vector<NewRow> rows;
                for (int j = 0; j <= i % max_rows; ++j) {
                    if (j % 2 == 0) {
                        rows.push_back(NewRow{"TokenPurchaseSaga", "saga-" + std::to_string(t), step++, 1});
                    } else {
                        rows.push_back(NewRow{"TokenUsage", std::nullopt, i, 1});
                    }
                }
                h.insert(rows);
                inserted += static_cast<std::int64_t>(rows.size());
                after_commit(i);
            }
        });
    }
    for (auto& w : workers) w.join();
    return inserted.load();
}

/// Polls `condition` every millisecond until it holds or `timeout` (generous: a failure, not a
/// measurement) passed. Returns whether it held.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return condition();
}

}  // namespace lt::token::test
