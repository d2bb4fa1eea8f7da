#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "outbox/outbox_relay.hpp"
#include "outbox/outbox_rows.hpp"

namespace lt::token {

using ports::SqlValue;
using outbox_detail::decode_rows;
using Steady = std::chrono::steady_clock;

// Cursor mode (see the header): no claim, no stamp; rows every consumer committed are deleted.

namespace {

/// Rows read per cursor pass: every row after the cursor, oldest first.
constexpr std::string_view kCursorSelectSql =
    "SELECT seq, id, aggregate_type, aggregate_id, payload FROM token_outbox WHERE seq > $1 ORDER BY seq LIMIT $2";
constexpr std::string_view kCursorCountSql = "SELECT COUNT(*) FROM token_outbox WHERE seq > $1";
/// The rows up to a seq every consumer has: a range of the primary key (above the rows no longer
/// tracked, which only the retention deletes).
constexpr std::string_view kCursorDeleteSql = "DELETE FROM token_outbox WHERE seq <= $1 AND seq > $2";
/// Rows sent and tracked until consumed at most (memory bound when a topic's consumer is far behind
/// or absent): beyond it the oldest go untracked and only the retention deletes them.
constexpr std::size_t kMaxTracked = 1'000'000;
/// Retention of rows sent that no consumer group reads: the newest such seq past the cutoff.
constexpr std::string_view kCursorExpiredSql =
    "SELECT MAX(seq) FROM token_outbox WHERE seq <= $1 AND created_at < $2";

}  // namespace

Result<std::size_t> OutboxRelay::publish_cursor_pass() {
    std::vector<Row> rows;
    rows.reserve(options_.batch_size);
    auto selected = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        rows.clear();
        auto q = s.execute(kCursorSelectSql,
                           {SqlValue(cursor_), SqlValue(static_cast<std::int64_t>(options_.batch_size))});
        if (!q) return fail(q.error());
        return decode_rows(q->rows, rows);
    });
    if (!selected) return fail(selected.error());

    // In seq order; the first failure ends the batch (the cursor stays before the row that failed).
    std::size_t sent = 0;
    std::optional<Error> append_error;
    auto appended_rows = append_rows(rows);
    for (std::size_t i = 0; i < appended_rows.size(); ++i) {
        auto& appended = appended_rows[i];
        if (!appended) {
            append_error = std::move(appended.error());
            break;
        }
        const auto& row = rows[i];
        const bool is_usage = row.aggregate_type == kUsageAggregateType;
        sent_.push_back(Sent{row.seq, is_usage, appended->partition, appended->offset});
        if (sent_.size() > kMaxTracked) {
            untracked_upto_ = sent_.front().seq;
            sent_.pop_front();
        }
        cursor_ = row.seq;
        ++sent;
    }
    count_published(rows, sent);

    if (auto deleted = delete_consumed(); !deleted && logger_) {
        // Kept rows are deleted by a later pass; nothing is lost.
        logger_->warn("outbox delete of consumed rows failed error={}", deleted.error().message);
    }
    const bool full = rows.size() >= options_.batch_size;
    const auto now = Steady::now();
    if (append_error || (full && now - last_count_ >= kBacklogCountPeriod)) {
        std::optional<std::int64_t> counted;
        auto c = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
            auto q = s.execute(kCursorCountSql, {SqlValue(cursor_)});
            if (!q) return fail(q.error());
            if (!q->rows.empty() && !q->rows[0].empty()) counted = ports::as_int(q->rows[0][0]);
            return ok();
        });
        if (c && counted) {
            last_count_ = now;
            set_backlog(*counted);
        }
    } else if (full) {
        set_backlog(std::max<std::int64_t>(0, backlog_.load(std::memory_order_relaxed) - static_cast<std::int64_t>(sent)));
    } else {
        set_backlog(0);
    }
    if (append_error) return fail(Error{append_error->code, "event log append failed: " + append_error->message});
    return sent;
}

Result<std::size_t> OutboxRelay::delete_consumed() {
    // Consumer groups may still be joining the log just after the start (one not yet known would not
    // count in consumed_by_all): nothing is deleted before options_.consumer_grace.
    if (sent_.empty() || Steady::now() - created_ < options_.consumer_grace) return std::size_t{0};
    // Watermarks per (topic, partition), asked once per pass.
    std::vector<std::pair<std::pair<bool, int>, std::int64_t>> marks;
    auto watermark = [&](bool usage, int partition) -> std::int64_t {
        for (const auto& [k, v] : marks) {
            if (k.first == usage && k.second == partition) return v;
        }
        auto c = log_.consumed_by_all(usage ? options_.usage_topic : options_.purchase_topic, partition);
        const std::int64_t v = c ? *c : 0;
        marks.push_back({{usage, partition}, v});
        return v;
    };
    std::int64_t upto = 0;
    std::size_t n = 0;
    for (const auto& row : sent_) {
        if (row.offset >= watermark(row.usage, row.partition)) break;
        upto = row.seq;
        ++n;
    }
    if (n == 0) return std::size_t{0};
    std::int64_t deleted = 0;
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        auto q = s.execute(kCursorDeleteSql, {SqlValue(upto), SqlValue(untracked_upto_)});
        if (!q) return fail(q.error());
        deleted = q->affected;
        return ok();
    });
    if (!r) return fail(r.error());
    sent_.erase(sent_.begin(), sent_.begin() + static_cast<std::ptrdiff_t>(n));
    if (deleted > 0 && purged_counter_) purged_counter_->inc(static_cast<double>(deleted));
    return static_cast<std::size_t>(std::max<std::int64_t>(0, deleted));
}

Result<std::size_t> OutboxRelay::purge_cursor_chunk(const std::string& cutoff) {
    // Rows sent that no group reads (e.g. analytics off): deleted after the retention, as a prefix.
    std::int64_t deleted = 0;
    std::optional<std::int64_t> upto;
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        auto m = s.execute(kCursorExpiredSql, {SqlValue(cursor_), SqlValue(cutoff)});
        if (!m) return fail(m.error());
        if (m->rows.empty() || m->rows[0].empty()) return ok();
        upto = ports::as_int(m->rows[0][0]);
        if (!upto) return ok();
        auto q = s.execute(kCursorDeleteSql, {SqlValue(*upto), SqlValue(std::int64_t{0})});
        if (!q) return fail(q.error());
        deleted = q->affected;
        return ok();
    });
    if (r && upto) {
        while (!sent_.empty() && sent_.front().seq <= *upto) sent_.pop_front();
    }
    return purged(r, deleted);
}

}  // namespace lt::token
