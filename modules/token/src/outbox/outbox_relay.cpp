#include "outbox/outbox_relay.hpp"

#include <algorithm>
#include <exception>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lt/core/time.hpp"
#include "outbox/outbox_rows.hpp"

namespace lt::token {

using ports::SqlValue;
using Steady = std::chrono::steady_clock;
using outbox_detail::decode_rows;

namespace {

/// Seqs stamped per UPDATE. Always this many parameters (a short list repeats its last seq), so the
/// statement is one prepared statement whatever the batch size.
constexpr std::size_t kMarkChunk = 64;
/// Rows deleted per purge transaction: short transactions keep the writers of other modules moving.
constexpr std::int64_t kPurgeChunk = 2000;

// SQLite (PostgreSQL uses the locked pass, outbox_relay_locked.cpp). A pass first claims up to
// batch-size unpublished rows nobody else holds (no claim, an expired one, or this relay's own from a
// failed pass), then reads back exactly the rows it claimed. The claim condition is repeated outside
// the sub-select, so a row claimed meanwhile is skipped: one row is never held by two relays. A row
// whose aggregate (saga) has an earlier unpublished row held by another relay waits, so one saga's
// events keep their order.
#define LT_OUTBOX_FREE                                                                                      \
    "published_at IS NULL AND (claim_until IS NULL OR claim_until < $3 OR claim_owner = $1) "              \
    "AND (aggregate_id IS NULL OR NOT EXISTS (SELECT 1 FROM token_outbox AS earlier "                      \
    "WHERE earlier.aggregate_id = token_outbox.aggregate_id AND earlier.seq < token_outbox.seq "            \
    "AND earlier.published_at IS NULL AND earlier.claim_until >= $3 AND earlier.claim_owner <> $1))"
constexpr std::string_view kClaimSql =
    "UPDATE token_outbox SET claim_owner = $1, claim_until = $2 WHERE " LT_OUTBOX_FREE
    " AND seq IN (SELECT seq FROM token_outbox WHERE " LT_OUTBOX_FREE " ORDER BY seq LIMIT $4)";
#undef LT_OUTBOX_FREE
constexpr std::string_view kSelectSql =
    "SELECT seq, id, aggregate_type, aggregate_id, payload FROM token_outbox "
    "WHERE claim_owner = $1 AND claim_until = $2 AND published_at IS NULL ORDER BY seq";
constexpr std::string_view kPurgeSql =
    "DELETE FROM token_outbox WHERE seq IN "
    "(SELECT seq FROM token_outbox WHERE published_at < $1 LIMIT $2)";

const std::string& mark_sql() {
    static const std::string sql = [] {
        std::string s = "UPDATE token_outbox SET published_at = $1 WHERE seq IN (";
        for (std::size_t i = 0; i < kMarkChunk; ++i) {
            s += i > 0 ? ", $" : "$";
            s += std::to_string(i + 2);
        }
        s += ')';
        return s;
    }();
    return sql;
}

/// Options with a usable batch size (a batch of 0 would never publish anything).
OutboxOptions usable(OutboxOptions o) {
    if (o.batch_size == 0) o.batch_size = 1;
    return o;
}

/// How often measure_lag() queries the oldest unpublished row (one indexed row read).
constexpr auto kLagPeriod = std::chrono::seconds(1);
constexpr std::string_view kOldestSql =
    "SELECT created_at FROM token_outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1";
/// In cursor mode rows are never stamped: the oldest row after the cursor is the oldest unpublished.
constexpr std::string_view kOldestAfterCursorSql =
    "SELECT created_at FROM token_outbox WHERE seq > $1 ORDER BY seq LIMIT 1";

/// Seconds from `oldest_ms` (ms since the epoch; 0: none) to now, never negative.
double lag_of(std::int64_t oldest_ms) {
    if (oldest_ms == 0) return 0;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return std::max<double>(0, static_cast<double>(now - oldest_ms) / 1000.0);
}

}  // namespace

OutboxRelay::OutboxRelay(ports::SqlDatabase& db, ports::EventLog& log, Clock& clock, MetricsRegistry* metrics,
                         Logger logger, OutboxOptions options)
    : db_(db),
      log_(log),
      clock_(clock),
      logger_(std::move(logger)),
      options_(usable(std::move(options))),
      owner_(new_uuid()) {
    cursor_mode_ = options_.delete_consumed && db_.dialect() == "sqlite" && !log_.durable() &&
                   log_.consumed_by_all(options_.usage_topic, 0).has_value();
    locked_mode_ = !cursor_mode_ && db_.dialect() == "postgres";
    // A durable log (Kafka) keeps what it acknowledged for its consumers: the row has done its job.
    // A log in memory does not: the row is stamped and kept, and sent again after a restart.
    delete_published_ = locked_mode_ && options_.delete_consumed && log_.durable();
    if (metrics) {
        backlog_gauge_ = &metrics->gauge("token_outbox_backlog", "Outbox rows not yet published").labels({});
        auto& published = metrics->counter("token_outbox_published_total", "Outbox rows published, by topic",
                                           {"topic"});
        published_usage_ = &published.labels({options_.usage_topic});
        published_purchase_ = &published.labels({options_.purchase_topic});
        failures_counter_ = &metrics->counter("token_outbox_publish_failures_total",
                                              "Outbox relay passes that failed (SQL or event log)")
                                 .labels({});
        purged_counter_ =
            &metrics->counter("token_outbox_purged_total", "Published outbox rows deleted after retention").labels({});
        metrics->gauge_callback("outbox_relay_lag_seconds",
                                "Age of the oldest unpublished outbox row (0: everything published)",
                                [oldest = oldest_unpublished_ms_] { return lag_of(oldest->load()); });
    }
}

OutboxRelay::~OutboxRelay() { stop(); }

void OutboxRelay::start() {
    std::lock_guard join_lock(join_mutex_);
    std::lock_guard lock(mutex_);
    if (!options_.enabled || started_ || stopping_) return;
    started_ = true;
    thread_ = std::thread([this] { run(); });
}

void OutboxRelay::stop() {
    std::lock_guard join_lock(join_mutex_);
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void OutboxRelay::wake() noexcept {
    // Already asked: the relay clears the flag before it reads rows, so this row will be seen.
    if (wake_pending_.load(std::memory_order_relaxed)) return;
    if (wake_pending_.exchange(true)) return;
    // idle_ is set before the relay checks wake_pending_ (both sequentially consistent): either it
    // sees the flag, or we see it idle and notify under its mutex.
    if (!idle_.load()) return;
    { std::lock_guard lock(mutex_); }
    wake_cv_.notify_one();
}

std::chrono::milliseconds OutboxRelay::next_backoff(std::chrono::milliseconds previous) const {
    const auto first = std::max(options_.initial_backoff, std::chrono::milliseconds(1));
    if (previous.count() <= 0) return std::min(first, options_.max_backoff);
    return previous >= options_.max_backoff / 2 ? options_.max_backoff : previous * 2;
}

Result<std::size_t> OutboxRelay::republish_kept() {
    std::lock_guard pass(pass_mutex_);
    std::size_t reset = 0;
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        // Claims go too: these rows are published by nobody now, and the claims were of a dead relay.
        auto u = s.execute(
            "UPDATE token_outbox SET published_at = NULL, claim_owner = NULL, claim_until = NULL "
            "WHERE published_at IS NOT NULL");
        if (!u) return fail(u.error());
        reset = static_cast<std::size_t>(u->affected);
        return ok();
    });
    if (!r) return fail(r.error());
    return reset;
}

void OutboxRelay::run() {
    if (!log_.durable() && !cursor_mode_) {
        // What this process published before it stopped lived in memory only: rows still kept are
        // sent again (consumers deduplicate by eventId), so a crash or a shutdown that came before the
        // consumers stored them loses nothing.
        auto reset = republish_kept();
        if (!reset && logger_) logger_->error("outbox relay could not re-publish kept rows error={}", reset.error().message);
        if (reset && *reset > 0 && logger_) logger_->info("outbox relay re-publishes {} rows kept from before the start", *reset);
    }
    auto next_pass = Steady::now();
    auto next_purge = Steady::now() + options_.purge_interval;
    std::chrono::milliseconds backoff{0};
    std::optional<std::string> purge_cutoff;  // set while a purge is under way (one chunk per turn)
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            idle_.store(true);
            const auto until = purge_cutoff ? Steady::now() : std::min(next_pass, next_purge);
            // While backing off, wake() does not shorten the pause.
            wake_cv_.wait_until(lock, until,
                                [&] { return stopping_ || (backoff.count() == 0 && wake_pending_.load()); });
            idle_.store(false);
            if (stopping_) break;
        }
        try {
            if (!purge_cutoff && Steady::now() >= next_purge) {
                purge_cutoff = format_rfc3339(clock_.now() - options_.retention);
                next_purge = Steady::now() + options_.purge_interval;
            }
            if (purge_cutoff) {
                // One chunk per turn, so that a long purge does not hold publication back.
                std::lock_guard pass(pass_mutex_);
                auto deleted = cursor_mode_ ? purge_cursor_chunk(*purge_cutoff) : purge_chunk(*purge_cutoff);
                if (!deleted || *deleted < static_cast<std::size_t>(kPurgeChunk)) purge_cutoff.reset();
            }
            const bool woken = backoff.count() == 0 && wake_pending_.load();
            if (!woken && Steady::now() < next_pass) continue;
            if (woken && options_.linger.count() > 0 && Steady::now() < next_pass) {
                // Woken by a commit while idle: let more commits land so one pass carries them all.
                std::unique_lock lock(mutex_);
                if (wake_cv_.wait_for(lock, options_.linger, [&] { return stopping_; })) break;
            }
            // Cleared before the pass reads rows: a wake() from now on asks for another pass.
            wake_pending_.store(false);
            auto published = publish_once();
            if (published) {
                backoff = std::chrono::milliseconds(0);
                const bool full = *published >= options_.batch_size;
                next_pass = full ? Steady::now() : Steady::now() + options_.poll_interval;
            } else {
                backoff = next_backoff(backoff);
                next_pass = Steady::now() + backoff;
            }
        } catch (const std::exception& e) {
            // Nothing above should throw; keep the relay alive if something does.
            if (logger_) logger_->error("outbox relay loop failed error={}", e.what());
            purge_cutoff.reset();
            backoff = next_backoff(backoff);
            next_pass = Steady::now() + backoff;
        }
        backoff_ms_.store(backoff.count(), std::memory_order_relaxed);
    }
    // Graceful stop: publish what is committed (a bounded effort) unless the relay is failing anyway.
    if (backoff.count() > 0 || options_.stop_flush.count() <= 0) return;
    const auto deadline = Steady::now() + options_.stop_flush;
    while (Steady::now() < deadline) {
        auto published = publish_once();
        if (!published || *published < options_.batch_size) break;
    }
}

Result<std::size_t> OutboxRelay::publish_once() {
    std::lock_guard pass(pass_mutex_);
    passes_.fetch_add(1, std::memory_order_relaxed);
    Result<std::size_t> result = fail(Errc::internal, "outbox pass did not run");
    try {
        result = cursor_mode_ ? publish_cursor_pass() : locked_mode_ ? publish_locked_pass() : publish_pass();
    } catch (const std::exception& e) {
        result = fail(Errc::internal, std::string("outbox pass threw: ") + e.what());
    } catch (...) {
        result = fail(Errc::internal, "outbox pass threw");
    }
    measure_lag();
    if (result) {
        consecutive_failures_.store(0, std::memory_order_relaxed);
        return result;
    }
    failures_.fetch_add(1, std::memory_order_relaxed);
    const auto consecutive = consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (failures_counter_) failures_counter_->inc();
    if (logger_) {
        logger_->warn("outbox publish failed error={} consecutive_failures={}", result.error().message, consecutive);
    }
    return result;
}

Result<std::size_t> OutboxRelay::publish_pass() {
    std::vector<Row> rows;
    rows.reserve(options_.batch_size);
    const auto now = clock_.now();
    const SqlValue owner(owner_);
    const SqlValue until(format_rfc3339(now + options_.lease));
    const SqlValue stamp(format_rfc3339(now));
    auto selected = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        rows.clear();
        auto claimed = s.execute(kClaimSql, {owner, until, stamp, SqlValue(static_cast<std::int64_t>(options_.batch_size))});
        if (!claimed) return fail(claimed.error());
        if (claimed->affected == 0) return ok();
        auto q = s.execute(kSelectSql, {owner, until});
        if (!q) return fail(q.error());
        return decode_rows(q->rows, rows);
    });
    if (!selected) return fail(selected.error());
    if (rows.empty()) {
        set_backlog(0);
        return std::size_t{0};
    }

    // Appends strictly in seq order; the first failure ends the batch so that no row overtakes an
    // earlier one (of the same saga, in particular).
    std::optional<Error> append_error;
    auto appended = append_rows(rows);
    const std::size_t sent = outbox_detail::acknowledged_prefix(appended, append_error);

    if (auto marked = mark_published(rows, sent); !marked) {
        // The rows sent are sent again by a later pass: at-least-once.
        return fail(Error{marked.error().code, "outbox rows sent but not stamped: " + marked.error().message});
    }
    count_published(rows, sent);
    if (append_error) {
        return fail(Error{append_error->code, "event log append failed: " + append_error->message});
    }
    return sent;
}

bool OutboxRelay::count_due(std::size_t read, std::size_t sent) const {
    // Backlog: a short batch sent whole leaves nothing behind (rows committed since wake the relay
    // again); a full one counts now and then; after a failure count always.
    const bool failed = sent < read;
    const bool full = read >= options_.batch_size;
    return failed || (full && Steady::now() - last_count_ >= kBacklogCountPeriod);
}

void OutboxRelay::after_pass(std::size_t read, std::size_t sent, std::optional<std::int64_t> counted) {
    if (counted) {
        last_count_ = Steady::now();
        set_backlog(*counted);
    } else if (read >= options_.batch_size) {
        set_backlog(std::max<std::int64_t>(0, backlog_.load(std::memory_order_relaxed) -
                                                  static_cast<std::int64_t>(sent)));
    } else {
        set_backlog(0);
    }
}

Result<void> OutboxRelay::mark_published(const std::vector<Row>& rows, std::size_t count) {
    const bool count_now = count_due(rows.size(), count);
    std::optional<std::int64_t> counted;
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        counted.reset();
        if (count > 0) {
            const SqlValue stamp(format_rfc3339(clock_.now()));
            std::vector<SqlValue> params;
            params.reserve(kMarkChunk + 1);
            for (std::size_t i = 0; i < count; i += kMarkChunk) {
                params.clear();
                params.push_back(stamp);
                for (std::size_t j = i; j < i + kMarkChunk; ++j) params.emplace_back(rows[std::min(j, count - 1)].seq);
                auto u = s.execute(mark_sql(), std::span<const SqlValue>(params));
                if (!u) return fail(u.error());
            }
        }
        if (count_now) {
            auto c = s.execute(kUnpublishedCountSql);
            if (!c) return fail(c.error());
            if (!c->rows.empty() && !c->rows[0].empty()) counted = ports::as_int(c->rows[0][0]);
        }
        return ok();
    });
    if (!r) return r;
    after_pass(rows.size(), count, counted);
    return ok();
}

void OutboxRelay::set_backlog(std::int64_t value) {
    backlog_.store(value, std::memory_order_relaxed);
    if (backlog_gauge_) backlog_gauge_->set(static_cast<double>(value));
}

Result<std::size_t> OutboxRelay::purge_chunk(const std::string& cutoff) {
    std::int64_t deleted = 0;
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        auto q = s.execute(kPurgeSql, {SqlValue(cutoff), SqlValue(kPurgeChunk)});
        if (!q) return fail(q.error());
        deleted = q->affected;
        return ok();
    });
    return purged(r, deleted);
}

Result<std::size_t> OutboxRelay::purged(const Result<void>& r, std::int64_t deleted) {
    if (!r) {
        if (logger_) logger_->warn("outbox purge failed error={}", r.error().message);
        return fail(r.error());
    }
    if (deleted > 0 && purged_counter_) purged_counter_->inc(static_cast<double>(deleted));
    return static_cast<std::size_t>(std::max<std::int64_t>(0, deleted));
}

Result<std::size_t> OutboxRelay::purge_once() {
    std::lock_guard pass(pass_mutex_);
    const std::string cutoff = format_rfc3339(clock_.now() - options_.retention);
    std::size_t total = 0;
    for (;;) {
        auto deleted = cursor_mode_ ? purge_cursor_chunk(cutoff) : purge_chunk(cutoff);
        if (!deleted) return deleted;
        total += *deleted;
        if (*deleted < static_cast<std::size_t>(kPurgeChunk)) return total;
    }
}

double OutboxRelay::lag_seconds() const { return lag_of(oldest_unpublished_ms_->load()); }

// Relay lag (docs/operations.md): the age of the oldest unpublished row, read after a pass at most
// once per kLagPeriod. A failed read keeps the last value, so a relay that cannot reach its
// database shows a growing lag. Called with pass_mutex_ held.
void OutboxRelay::measure_lag() {
    const auto now = Steady::now();
    if (now - last_lag_ < kLagPeriod) return;
    last_lag_ = now;
    std::int64_t oldest = 0;
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        auto q = cursor_mode_ ? s.execute(kOldestAfterCursorSql, {SqlValue(cursor_)}) : s.execute(kOldestSql);
        if (!q) return fail(q.error());
        if (!q->rows.empty() && !q->rows[0].empty()) {
            if (auto text = ports::as_text(q->rows[0][0])) {
                if (auto tp = parse_rfc3339(*text)) {
                    oldest = std::max<std::int64_t>(
                        1, std::chrono::duration_cast<std::chrono::milliseconds>(tp->time_since_epoch()).count());
                }
            }
        }
        return ok();
    });
    if (r) oldest_unpublished_ms_->store(oldest);
}

std::vector<Result<ports::EventRecord>> OutboxRelay::append_rows(std::vector<Row>& rows) {
    std::vector<ports::EventLog::Append> batch;
    batch.reserve(rows.size());
    for (auto& row : rows) {
        const bool usage = row.aggregate_type == kUsageAggregateType;
        const std::string& key = row.aggregate_id.empty() ? row.id : row.aggregate_id;
        batch.push_back({usage ? options_.usage_topic : options_.purchase_topic, key, std::move(row.payload)});
    }
    try {
        auto out = log_.append_batch(std::span<ports::EventLog::Append>(batch));
        if (out.size() == rows.size()) return out;
        std::vector<Result<ports::EventRecord>> bad;
        bad.push_back(fail(Errc::internal, "event log answered a batch with the wrong number of results"));
        return bad;
    } catch (const std::exception& e) {
        std::vector<Result<ports::EventRecord>> bad;
        bad.push_back(fail(Errc::internal, std::string("event log append threw: ") + e.what()));
        return bad;
    } catch (...) {
        std::vector<Result<ports::EventRecord>> bad;
        bad.push_back(fail(Errc::internal, "event log append threw"));
        return bad;
    }
}

void OutboxRelay::count_published(const std::vector<Row>& rows, std::size_t sent) {
    if (sent == 0) return;
    std::size_t usage = 0;
    for (std::size_t i = 0; i < sent; ++i) usage += rows[i].aggregate_type == kUsageAggregateType ? 1 : 0;
    if (published_usage_ && usage > 0) published_usage_->inc(static_cast<double>(usage));
    if (published_purchase_ && sent > usage) published_purchase_->inc(static_cast<double>(sent - usage));
    published_.fetch_add(sent, std::memory_order_relaxed);
}

}  // namespace lt::token
