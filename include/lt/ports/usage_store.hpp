#pragma once
/// UsageStore port: the analytics module's storage of usage and purchase events. Events are stored
/// idempotently by `event_id` (a redelivered event is stored and counted once; two events in the same
/// millisecond are both kept). Per-minute rollups per provider and per (user, provider) are updated in
/// the same transaction as the raw insert, only for events that are new, so every window query is
/// exact: whole minutes come from the rollups, the partial minutes at a window's edges from the raw
/// events. Raw events are purged after a retention; rollups after a longer one.
/// Adapters: SqlUsageStore (any SqlDatabase with migrations/analytics/<dialect>: SQLite today,
/// PostgreSQL with its migrations); Cassandra later behind the same port.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lt/core/result.hpp"

namespace lt::ports {

/// Event times have millisecond resolution (finer parts are dropped when stored).
using UsageTime = std::chrono::system_clock::time_point;

/// One usage event (`token.usage.v1`): a consume attempt that was admitted or denied.
struct UsageEvent {
    std::string event_id;               ///< canonical lower-case UUID; the idempotency key
    std::string user_id;                ///< non-empty
    std::optional<std::string> org_id;  ///< the org pool that paid, if any
    std::string provider;               ///< lower-case
    std::int64_t tokens = 0;            ///< >= 0
    bool allowed = false;               ///< admitted (tokens spent) or denied
    std::string outcome;                ///< allowed | rate_limited | provider_failure
    UsageTime occurred_at{};            ///< event time (the envelope's occurredAt)
    // Chat completions (/v1/chat/completions) only; unset for consume events.
    std::optional<std::string> model;             ///< the model the caller named
    std::optional<std::int64_t> prompt_tokens;    ///< as reported by the provider
    std::optional<std::int64_t> completion_tokens;
    std::optional<std::string> completeness;      ///< complete | cut_off | client_disconnected | upstream_error
};

/// One purchase saga event (`token.purchase.v1`).
struct PurchaseEvent {
    std::string event_id;               ///< canonical lower-case UUID; the idempotency key
    std::string event;                  ///< TOKEN_PURCHASE_STARTED, TOKEN_PURCHASE_COMPLETED, ...
    std::string saga_id;
    std::string user_id;
    std::optional<std::string> org_id;
    std::string provider;               ///< lower-case
    std::int64_t tokens = 0;
    std::string status;                 ///< the saga's status after this step
    UsageTime occurred_at{};
};

/// Sums over a set of usage events. "Tokens" of allowed events were spent; those of denied ones not.
struct UsageTotals {
    std::int64_t allowed_events = 0;
    std::int64_t denied_events = 0;
    std::int64_t allowed_tokens = 0;
    std::int64_t denied_tokens = 0;

    std::int64_t events() const { return allowed_events + denied_events; }
    UsageTotals& operator+=(const UsageTotals& o) {
        allowed_events += o.allowed_events;
        denied_events += o.denied_events;
        allowed_tokens += o.allowed_tokens;
        denied_tokens += o.denied_tokens;
        return *this;
    }
    bool operator==(const UsageTotals&) const = default;
};

/// Which events a query covers: one provider or all, one user or all.
struct UsageScope {
    std::optional<std::string> provider;  ///< lower-case; nullopt = every provider
    std::optional<std::string> user_id;   ///< nullopt = every user
};

/// A half-open time range [from, to). A closed window [a, b] is [a, b + 1 ms).
struct TimeRange {
    UsageTime from{};
    UsageTime to{};
};

/// What breakdown() groups by.
/// `model`: the events of chat completions grouped by their model (events without one are left out);
/// computed from the raw events.
enum class UsageDimension { provider, user, model };

/// Totals of one provider or one user.
struct GroupTotals {
    std::string key;  ///< provider name or user id
    UsageTotals totals;
};

/// Purchase saga figures over a range. Completed sagas and their tokens count each saga once, even
/// when several distinct events report its completion.
struct PurchaseTotals {
    std::int64_t started = 0;            ///< TOKEN_PURCHASE_STARTED events
    std::int64_t completed = 0;          ///< distinct sagas with TOKEN_PURCHASE_COMPLETED
    std::int64_t failed = 0;             ///< distinct sagas with TOKEN_PURCHASE_FAILED
    std::int64_t purchased_tokens = 0;   ///< tokens of the completed sagas
    bool operator==(const PurchaseTotals&) const = default;
};

/// Thread-safe. Every call is blocking (SQL, network): call it from a consumer thread or the blocking
/// pool, never from an I/O thread. Errors: Errc::internal / Errc::unavailable when storage fails
/// (nothing of a failed store_* call is kept).
class UsageStore {
public:
    virtual ~UsageStore() = default;

    /// Creates or upgrades the schema (idempotent; start-up).
    virtual Result<void> migrate() = 0;

    /// Stores `events` in one transaction, ignoring those whose event_id is already stored (also
    /// repeats inside `events`), and adds the new ones to the rollups. Returns how many were new.
    virtual Result<std::size_t> store_usage(std::span<const UsageEvent> events) = 0;

    /// The same for purchase events (no rollups). Returns how many were new.
    virtual Result<std::size_t> store_purchases(std::span<const PurchaseEvent> events) = 0;

    /// The newest `limit` usage events of `scope` (any time), newest first; events of the same
    /// millisecond come in reverse order of storage.
    virtual Result<std::vector<UsageEvent>> recent_usage(const UsageScope& scope, std::size_t limit) = 0;

    /// Exact totals of `scope` for each range [edges[i], edges[i+1]) (edges ascending; fewer than two
    /// edges → empty result). Computed in one consistent read.
    virtual Result<std::vector<UsageTotals>> series(const UsageScope& scope, std::span<const UsageTime> edges) = 0;

    /// Exact totals of `scope` in `range` per provider or per user, for every group that has at least
    /// one event there, sorted by key.
    virtual Result<std::vector<GroupTotals>> breakdown(const UsageScope& scope, TimeRange range,
                                                       UsageDimension by) = 0;

    /// Purchase figures of `scope` in `range`.
    virtual Result<PurchaseTotals> purchases(const UsageScope& scope, TimeRange range) = 0;

    /// Deletes at most `max_rows` raw events (usage and purchase) older than `raw_before` and at most
    /// `max_rows` rollup rows of minutes that ended at or before `rollups_before` (a rollup is never
    /// purged before its raw events: rollups_before later than raw_before counts as raw_before).
    /// Returns the rows deleted; call again while it returns a positive count.
    virtual Result<std::size_t> purge(UsageTime raw_before, UsageTime rollups_before, std::size_t max_rows) = 0;

    /// Compaction: deletes at most `max_rows` raw USAGE events older than `before` (their totals stay
    /// in the per-minute rollups; purchase events are kept). Returns the rows deleted; call again while
    /// it returns a positive count. Default: nothing to compact. Blocking: never on an I/O thread.
    virtual Result<std::size_t> compact_usage(UsageTime before, std::size_t max_rows) {
        (void)before;
        (void)max_rows;
        return std::size_t{0};
    }

    /// Totals of `scope` in `range` (one-range series()).
    Result<UsageTotals> totals(const UsageScope& scope, TimeRange range) {
        const UsageTime edges[] = {range.from, range.to};
        auto s = series(scope, edges);
        if (!s) return fail(s.error());
        return s->empty() ? UsageTotals{} : s->front();
    }
};

}  // namespace lt::ports
