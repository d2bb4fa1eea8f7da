#pragma once
/// Internal to the outbox relay's files: the row a pass reads and its decoding.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"
#include "outbox/outbox_relay.hpp"

namespace lt::token {

/// One unpublished row as read by a pass.
struct OutboxRelay::Row {
    std::int64_t seq = 0;
    std::string id;
    std::string aggregate_type;
    std::string aggregate_id;  ///< empty when NULL
    std::string payload;
};

namespace outbox_detail {

/// Moves the text out of `v` (empty when it is not text, e.g. NULL).
inline std::string take_text(ports::SqlValue& v) {
    if (auto* s = std::get_if<std::string>(&v)) return std::move(*s);
    return {};
}

/// Appends the outbox rows of a `SELECT seq, id, aggregate_type, aggregate_id, payload` to `out`.
template <class SqlRows, class Row>
Result<void> decode_rows(SqlRows& rows, std::vector<Row>& out) {
    for (auto& r : rows) {
        if (r.size() < 5) return fail(Errc::internal, "outbox select returned too few columns");
        Row row;
        row.seq = ports::as_int(r[0]).value_or(0);
        row.id = take_text(r[1]);
        row.aggregate_type = take_text(r[2]);
        row.aggregate_id = take_text(r[3]);
        row.payload = take_text(r[4]);
        out.push_back(std::move(row));
    }
    return ok();
}

/// How many results, from the first, succeeded; `error` gets the first failure (if any). A relay
/// counts only that prefix as sent: a row after a failure is sent again later.
template <class Results>
std::size_t acknowledged_prefix(Results& results, std::optional<Error>& error) {
    std::size_t n = 0;
    for (auto& one : results) {
        if (!one) {
            error = std::move(one.error());
            break;
        }
        ++n;
    }
    return n;
}

}  // namespace outbox_detail

/// A full batch refreshes the backlog with a COUNT at most this often (counting a long backlog costs
/// time proportional to it); in between the gauge is decremented by what was published.
inline constexpr auto kBacklogCountPeriod = std::chrono::seconds(1);
/// The backlog of the stamping and the locked passes.
inline constexpr std::string_view kUnpublishedCountSql = "SELECT COUNT(*) FROM token_outbox WHERE published_at IS NULL";

}  // namespace lt::token
