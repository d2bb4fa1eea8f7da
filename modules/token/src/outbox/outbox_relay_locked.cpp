// The PostgreSQL pass of the outbox relay (see outbox_relay.hpp, "Locked mode"): one transaction
// locks up to batch-size free rows, appends them to the log as one batch and deletes (or stamps) the
// rows the log acknowledged. The row locks are the claim: N relays on one database never hold one row
// at once, a relay that dies releases its rows with its connection, and no claim columns are written
// (the claiming pass wrote each row twice before deleting it, and its read-back scanned the table).

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lt/core/time.hpp"
#include "outbox/outbox_relay.hpp"
#include "outbox/outbox_rows.hpp"

namespace lt::token {

using ports::SqlValue;

namespace {

// Free rows, oldest first. A row waits while an earlier row of its aggregate (a saga) is unpublished,
// wherever that one is held (READ COMMITTED: the earlier row is seen unpublished until the relay that
// holds it commits), so one saga's events keep their order across relays. SKIP LOCKED: relays never
// wait on each other's rows.
constexpr std::string_view kLockSql =
    "SELECT seq, id, aggregate_type, aggregate_id, payload FROM token_outbox AS o WHERE published_at IS NULL "
    "AND (aggregate_id IS NULL OR NOT EXISTS (SELECT 1 FROM token_outbox AS earlier "
    "WHERE earlier.aggregate_id = o.aggregate_id AND earlier.seq < o.seq AND earlier.published_at IS NULL)) "
    "ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED";
constexpr std::string_view kDeleteSentSql = "DELETE FROM token_outbox WHERE seq = ANY($1::bigint[])";
constexpr std::string_view kStampSentSql = "UPDATE token_outbox SET published_at = $1 WHERE seq = ANY($2::bigint[])";

/// The seqs of the first `n` rows as a PostgreSQL array literal ("{1,2,3}"): one parameter whatever
/// the batch size, so the statement stays one prepared statement.
template <class Row>
std::string seq_array(const std::vector<Row>& rows, std::size_t n) {
    std::string out = "{";
    for (std::size_t i = 0; i < n; ++i) {
        if (i > 0) out.push_back(',');
        out += std::to_string(rows[i].seq);
    }
    out.push_back('}');
    return out;
}

}  // namespace

Result<std::size_t> OutboxRelay::publish_locked_pass() {
    std::vector<Row> rows;
    rows.reserve(options_.batch_size);
    std::size_t sent = 0;
    std::size_t read = 0;
    bool aggregates = false;
    std::optional<Error> append_error;
    std::optional<std::int64_t> counted;
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        // A unit may run again (a retried transaction): start from nothing each time.
        rows.clear();
        sent = read = 0;
        aggregates = false;
        append_error.reset();
        counted.reset();
        auto q = s.execute(kLockSql, {SqlValue(static_cast<std::int64_t>(options_.batch_size))});
        if (!q) return fail(q.error());
        if (auto d = outbox_detail::decode_rows(q->rows, rows); !d) return d;
        read = rows.size();
        if (rows.empty()) return ok();
        for (const auto& row : rows) aggregates = aggregates || !row.aggregate_id.empty();
        // In seq order, as one batch; the prefix the log acknowledged counts as sent (a row after a
        // failure may have reached the log too: it is sent again later, consumers deduplicate).
        auto appended = append_rows(rows);
        sent = outbox_detail::acknowledged_prefix(appended, append_error);
        if (sent > 0) {
            const SqlValue seqs(seq_array(rows, sent));
            auto w = delete_published_ ? s.execute(kDeleteSentSql, {seqs})
                                       : s.execute(kStampSentSql, {SqlValue(format_rfc3339(clock_.now())), seqs});
            if (!w) return fail(w.error());
        }
        if (count_due(read, sent)) {
            auto c = s.execute(kUnpublishedCountSql);
            if (!c) return fail(c.error());
            if (!c->rows.empty() && !c->rows[0].empty()) counted = ports::as_int(c->rows[0][0]);
        }
        return ok();
    });
    if (!r) {
        // Rows appended before a failed commit are sent again by a later pass: at-least-once.
        return fail(Error{r.error().code, (sent > 0 ? "outbox rows sent but not recorded: " : "outbox pass failed: ") +
                                              r.error().message});
    }
    count_published(rows, sent);
    after_pass(read, sent, counted);
    if (append_error) return fail(Error{append_error->code, "event log append failed: " + append_error->message});
    // A saga's next event waits for this pass's commit: pass again at once rather than after the
    // poll interval.
    if (aggregates && sent > 0) wake_pending_.store(true);
    return sent;
}

}  // namespace lt::token
