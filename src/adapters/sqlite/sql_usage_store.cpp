#include "lt/adapters/sql_usage_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

namespace lt::adapters {

using lt::ports::GroupTotals;
using lt::ports::PurchaseEvent;
using lt::ports::PurchaseTotals;
using lt::ports::SqlResult;
using lt::ports::SqlSession;
using lt::ports::SqlValue;
using lt::ports::TimeRange;
using lt::ports::UsageDimension;
using lt::ports::UsageEvent;
using lt::ports::UsageScope;
using lt::ports::UsageTime;
using lt::ports::UsageTotals;

namespace {

constexpr std::int64_t kMinuteMs = 60'000;

std::int64_t to_ms(UsageTime t) {
    return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

UsageTime from_ms(std::int64_t ms) {
    return UsageTime(std::chrono::duration_cast<UsageTime::duration>(std::chrono::milliseconds(ms)));
}

/// Start of the minute holding `ms` (floor, also before 1970).
std::int64_t minute_floor(std::int64_t ms) {
    std::int64_t q = ms / kMinuteMs;
    if (ms % kMinuteMs < 0) --q;
    return q * kMinuteMs;
}

/// First minute start at or after `ms`.
std::int64_t minute_ceil(std::int64_t ms) {
    const std::int64_t f = minute_floor(ms);
    return f == ms ? f : f + kMinuteMs;
}

SqlValue optional_text(const std::optional<std::string>& v) { return v ? SqlValue(*v) : SqlValue(nullptr); }
SqlValue optional_int(const std::optional<std::int64_t>& v) { return v ? SqlValue(*v) : SqlValue(nullptr); }

UsageTotals delta_of(const UsageEvent& e) {
    UsageTotals d;
    if (e.allowed) {
        d.allowed_events = 1;
        d.allowed_tokens = e.tokens;
    } else {
        d.denied_events = 1;
        d.denied_tokens = e.tokens;
    }
    return d;
}

/// A WHERE clause under construction: fixed column names, values always bound as `$N`.
class Where {
public:
    void equals(std::string_view column, const std::string& value) { add(column, " = ", SqlValue(value)); }
    void at_least(std::string_view column, std::int64_t value) { add(column, " >= ", SqlValue(value)); }
    void below(std::string_view column, std::int64_t value) { add(column, " < ", SqlValue(value)); }
    void scope(const UsageScope& s) {
        if (s.provider) equals("provider", *s.provider);
        if (s.user_id) equals("user_id", *s.user_id);
    }
    /// `provider` among those with a rollup row in [from_minute, to_ms): the providers that have raw
    /// events there, so that the (provider, occurred_at) index serves queries over every provider.
    void providers_with_rollups(std::int64_t from_minute, std::int64_t to_ms) {
        sql_ += params_.empty() ? " WHERE " : " AND ";
        params_.push_back(SqlValue(from_minute));
        params_.push_back(SqlValue(to_ms));
        sql_ += "provider IN (SELECT DISTINCT provider FROM analytics_rollup_provider WHERE minute >= $" +
                std::to_string(params_.size() - 1) + " AND minute < $" + std::to_string(params_.size()) + ")";
    }
    const std::string& sql() const { return sql_; }
    std::vector<SqlValue>& params() { return params_; }

private:
    void add(std::string_view column, std::string_view op, SqlValue value) {
        sql_ += params_.empty() ? " WHERE " : " AND ";
        sql_ += column;
        sql_ += op;
        params_.push_back(std::move(value));
        sql_ += '$';
        sql_ += std::to_string(params_.size());
    }
    std::string sql_;
    std::vector<SqlValue> params_;
};

constexpr std::string_view kRollupSums =
    "CAST(COALESCE(SUM(allowed_events), 0) AS BIGINT), CAST(COALESCE(SUM(denied_events), 0) AS BIGINT), "
    "CAST(COALESCE(SUM(allowed_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(denied_tokens), 0) AS BIGINT)";
constexpr std::string_view kRawSums =
    "CAST(COALESCE(SUM(allowed), 0) AS BIGINT), CAST(COALESCE(SUM(1 - allowed), 0) AS BIGINT), "
    "CAST(COALESCE(SUM(CASE WHEN allowed = 1 THEN tokens ELSE 0 END), 0) AS BIGINT), "
    "CAST(COALESCE(SUM(CASE WHEN allowed = 0 THEN tokens ELSE 0 END), 0) AS BIGINT)";

/// Reads four sums starting at column `first`.
UsageTotals totals_at(const lt::ports::SqlRow& row, std::size_t first) {
    UsageTotals t;
    t.allowed_events = lt::ports::as_int(row.at(first)).value_or(0);
    t.denied_events = lt::ports::as_int(row.at(first + 1)).value_or(0);
    t.allowed_tokens = lt::ports::as_int(row.at(first + 2)).value_or(0);
    t.denied_tokens = lt::ports::as_int(row.at(first + 3)).value_or(0);
    return t;
}

/// Sums of `scope` over [from, to) in ms, grouped by `group` (a column name, or empty for one total),
/// added into `out` (key "" when not grouped). Whole minutes come from the rollups, the rest from the
/// raw events.
Result<void> accumulate(SqlSession& s, const UsageScope& scope, std::int64_t from, std::int64_t to,
                        std::string_view group, std::map<std::string, UsageTotals>& out) {
    if (from >= to) return ok();
    const std::string select = group.empty() ? std::string("SELECT ") : "SELECT " + std::string(group) + ", ";
    const std::string group_by = group.empty() ? std::string() : " GROUP BY " + std::string(group);
    const std::size_t first_sum = group.empty() ? 0 : 1;

    auto run = [&](const std::string& sql, Where& where) -> Result<void> {
        auto r = s.execute(sql, std::span<const SqlValue>(where.params()));
        if (!r) return fail(r.error());
        for (const auto& row : r->rows) {
            const std::string key = group.empty() ? std::string() : lt::ports::as_text(row.at(0)).value_or("");
            const UsageTotals t = totals_at(row, first_sum);
            if (t.events() > 0) out[key] += t;
        }
        return ok();
    };
    auto raw = [&](std::int64_t a, std::int64_t b) -> Result<void> {
        if (a >= b) return ok();
        Where w;
        w.scope(scope);
        if (!scope.provider && !scope.user_id) w.providers_with_rollups(minute_floor(a), b);
        w.at_least("occurred_at", a);
        w.below("occurred_at", b);
        return run(select + std::string(kRawSums) + " FROM analytics_usage_events" + w.sql() + group_by, w);
    };

    const std::int64_t first_minute = minute_ceil(from);
    const std::int64_t end_minute = minute_floor(to);
    if (first_minute >= end_minute) return raw(from, to);

    // Per-user rollups whenever a user is involved; the (smaller) provider rollups otherwise.
    const bool by_user = scope.user_id || group == "user_id";
    Where w;
    w.scope(scope);
    w.at_least("minute", first_minute);
    w.below("minute", end_minute);
    const std::string table = by_user ? " FROM analytics_rollup_user" : " FROM analytics_rollup_provider";
    if (auto r = run(select + std::string(kRollupSums) + table + w.sql() + group_by, w); !r) return r;
    if (auto r = raw(from, first_minute); !r) return r;
    return raw(end_minute, to);
}

/// Sums of `scope` over [from, to) in ms per model, from the raw events of chat completions.
Result<void> model_sums(SqlSession& s, const UsageScope& scope, std::int64_t from, std::int64_t to,
                        std::map<std::string, UsageTotals>& out) {
    if (from >= to) return ok();
    Where w;
    w.scope(scope);
    if (!scope.provider && !scope.user_id) w.providers_with_rollups(minute_floor(from), to);
    w.at_least("occurred_at", from);
    w.below("occurred_at", to);
    auto r = s.execute("SELECT model, " + std::string(kRawSums) + " FROM analytics_usage_events" + w.sql() +
                           " AND model IS NOT NULL GROUP BY model",
                       std::span<const SqlValue>(w.params()));
    if (!r) return fail(r.error());
    for (const auto& row : r->rows) {
        const UsageTotals t = totals_at(row, 1);
        if (t.events() > 0) out[lt::ports::as_text(row.at(0)).value_or("")] += t;
    }
    return ok();
}

constexpr std::string_view kInsertUsage =
    "INSERT INTO analytics_usage_events (event_id, user_id, org_id, provider, tokens, allowed, outcome, occurred_at, "
    "model, prompt_tokens, completion_tokens, completeness) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (event_id) DO NOTHING";
constexpr std::string_view kInsertPurchase =
    "INSERT INTO analytics_purchase_events (event_id, event, saga_id, user_id, org_id, provider, tokens, status, "
    "occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING";
constexpr std::string_view kUpsertProviderRollup =
    "INSERT INTO analytics_rollup_provider (provider, minute, allowed_events, denied_events, allowed_tokens, "
    "denied_tokens) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider, minute) DO UPDATE SET "
    "allowed_events = analytics_rollup_provider.allowed_events + excluded.allowed_events, "
    "denied_events = analytics_rollup_provider.denied_events + excluded.denied_events, "
    "allowed_tokens = analytics_rollup_provider.allowed_tokens + excluded.allowed_tokens, "
    "denied_tokens = analytics_rollup_provider.denied_tokens + excluded.denied_tokens";
constexpr std::string_view kUpsertUserRollup =
    "INSERT INTO analytics_rollup_user (user_id, provider, minute, allowed_events, denied_events, allowed_tokens, "
    "denied_tokens) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, provider, minute) DO UPDATE SET "
    "allowed_events = analytics_rollup_user.allowed_events + excluded.allowed_events, "
    "denied_events = analytics_rollup_user.denied_events + excluded.denied_events, "
    "allowed_tokens = analytics_rollup_user.allowed_tokens + excluded.allowed_tokens, "
    "denied_tokens = analytics_rollup_user.denied_tokens + excluded.denied_tokens";

/// Read queries run several statements (rollups, then the raw edges): on PostgreSQL they share one
/// snapshot (REPEATABLE READ; read-only, so never a serialization failure), as they do under SQLite's
/// transaction lock, so a batch committed in between is counted entirely or not at all.
Result<void> one_snapshot(const lt::ports::SqlDatabase& db, SqlSession& s) {
    if (db.dialect() != "postgres") return ok();
    auto r = s.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    if (!r) return fail(r.error());
    return ok();
}

Result<std::size_t> delete_some(SqlSession& s, std::string_view sql, std::int64_t before, std::size_t max_rows) {
    auto r = s.execute(sql, {SqlValue(before), SqlValue(static_cast<std::int64_t>(max_rows))});
    if (!r) return fail(r.error());
    return static_cast<std::size_t>(r->affected);
}

}  // namespace

SqlUsageStore::SqlUsageStore(lt::ports::SqlDatabase& db) : db_(db) {}

lt::Result<void> SqlUsageStore::migrate() {
    auto migrations = lt::ports::embedded_migrations("analytics", db_.dialect());
    auto applied = lt::ports::run_migrations(db_, "analytics", migrations);
    if (!applied) return fail(applied.error());
    return ok();
}

lt::Result<std::size_t> SqlUsageStore::store_usage(std::span<const UsageEvent> events) {
    if (events.empty()) return std::size_t{0};
    std::size_t fresh = 0;
    auto r = db_.transact_sync([&](SqlSession& s) -> Result<void> {
        fresh = 0;
        // The batch's new events summed per rollup row: one upsert per row instead of one per event.
        std::map<std::pair<std::string, std::int64_t>, UsageTotals> providers;
        std::map<std::tuple<std::string, std::string, std::int64_t>, UsageTotals> users;
        // The inserts in one pipeline, then the upserts in another: two round trips per batch on
        // PostgreSQL (SQLite runs them one after the other, as before).
        std::vector<std::vector<SqlValue>> params;
        params.reserve(events.size());
        for (const auto& e : events) {
            params.push_back({SqlValue(e.event_id), SqlValue(e.user_id), optional_text(e.org_id), SqlValue(e.provider),
                              SqlValue(e.tokens), SqlValue(std::int64_t{e.allowed ? 1 : 0}), SqlValue(e.outcome),
                              SqlValue(to_ms(e.occurred_at)), optional_text(e.model), optional_int(e.prompt_tokens),
                              optional_int(e.completion_tokens), optional_text(e.completeness)});
        }
        std::vector<lt::ports::SqlStatement> statements;
        statements.reserve(events.size());
        for (const auto& p : params) statements.push_back({kInsertUsage, p});
        auto inserted = s.execute_pipeline(statements);
        if (inserted.size() != events.size()) return fail(Errc::internal, "pipeline answered the wrong number of statements");
        for (std::size_t i = 0; i < events.size(); ++i) {
            if (!inserted[i]) return fail(inserted[i].error());
            if (inserted[i]->affected == 0) continue;  // already stored: counted once
            ++fresh;
            const auto& e = events[i];
            const std::int64_t minute = minute_floor(to_ms(e.occurred_at));
            const UsageTotals d = delta_of(e);
            providers[{e.provider, minute}] += d;
            users[{e.user_id, e.provider, minute}] += d;
        }
        params.clear();
        statements.clear();
        for (const auto& [key, t] : providers) {
            params.push_back({SqlValue(key.first), SqlValue(key.second), SqlValue(t.allowed_events),
                              SqlValue(t.denied_events), SqlValue(t.allowed_tokens), SqlValue(t.denied_tokens)});
        }
        for (const auto& [key, t] : users) {
            params.push_back({SqlValue(std::get<0>(key)), SqlValue(std::get<1>(key)), SqlValue(std::get<2>(key)),
                              SqlValue(t.allowed_events), SqlValue(t.denied_events), SqlValue(t.allowed_tokens),
                              SqlValue(t.denied_tokens)});
        }
        for (std::size_t i = 0; i < params.size(); ++i) {
            statements.push_back({i < providers.size() ? kUpsertProviderRollup : kUpsertUserRollup, params[i]});
        }
        for (auto& up : s.execute_pipeline(statements)) {
            if (!up) return fail(up.error());
        }
        return ok();
    });
    if (!r) return fail(r.error());
    return fresh;
}

lt::Result<std::size_t> SqlUsageStore::store_purchases(std::span<const PurchaseEvent> events) {
    if (events.empty()) return std::size_t{0};
    std::size_t fresh = 0;
    auto r = db_.transact_sync([&](SqlSession& s) -> Result<void> {
        fresh = 0;
        for (const auto& e : events) {
            auto ins = s.execute(kInsertPurchase,
                                 {SqlValue(e.event_id), SqlValue(e.event), SqlValue(e.saga_id), SqlValue(e.user_id),
                                  optional_text(e.org_id), SqlValue(e.provider), SqlValue(e.tokens), SqlValue(e.status),
                                  SqlValue(to_ms(e.occurred_at))});
            if (!ins) return fail(ins.error());
            if (ins->affected > 0) ++fresh;
        }
        return ok();
    });
    if (!r) return fail(r.error());
    return fresh;
}

lt::Result<std::vector<UsageEvent>> SqlUsageStore::recent_usage(const UsageScope& scope, std::size_t limit) {
    std::vector<UsageEvent> out;
    if (limit == 0) return out;
    auto r = db_.transact_sync([&](SqlSession& s) -> Result<void> {
        Where w;
        w.scope(scope);
        w.params().push_back(SqlValue(static_cast<std::int64_t>(limit)));
        const std::string sql =
            "SELECT event_id, user_id, org_id, provider, tokens, allowed, outcome, occurred_at, model, prompt_tokens, "
            "completion_tokens, completeness FROM analytics_usage_events" + w.sql() + " ORDER BY occurred_at DESC, id DESC LIMIT $" +
            std::to_string(w.params().size());
        auto rows = s.execute(sql, std::span<const SqlValue>(w.params()));
        if (!rows) return fail(rows.error());
        out.clear();
        out.reserve(rows->rows.size());
        for (const auto& row : rows->rows) {
            UsageEvent e;
            e.event_id = lt::ports::as_text(row.at(0)).value_or("");
            e.user_id = lt::ports::as_text(row.at(1)).value_or("");
            e.org_id = lt::ports::as_text(row.at(2));
            e.provider = lt::ports::as_text(row.at(3)).value_or("");
            e.tokens = lt::ports::as_int(row.at(4)).value_or(0);
            e.allowed = lt::ports::as_int(row.at(5)).value_or(0) != 0;
            e.outcome = lt::ports::as_text(row.at(6)).value_or("");
            e.occurred_at = from_ms(lt::ports::as_int(row.at(7)).value_or(0));
            e.model = lt::ports::as_text(row.at(8));
            e.prompt_tokens = lt::ports::as_int(row.at(9));
            e.completion_tokens = lt::ports::as_int(row.at(10));
            e.completeness = lt::ports::as_text(row.at(11));
            out.push_back(std::move(e));
        }
        return ok();
    });
    if (!r) return fail(r.error());
    return out;
}

lt::Result<std::vector<UsageTotals>> SqlUsageStore::series(const UsageScope& scope, std::span<const UsageTime> edges) {
    std::vector<UsageTotals> out;
    if (edges.size() < 2) return out;
    auto r = db_.transact_sync([&](SqlSession& s) -> Result<void> {
        if (auto snap = one_snapshot(db_, s); !snap) return snap;
        out.assign(edges.size() - 1, UsageTotals{});
        for (std::size_t i = 0; i + 1 < edges.size(); ++i) {
            std::map<std::string, UsageTotals> one;
            if (auto a = accumulate(s, scope, to_ms(edges[i]), to_ms(edges[i + 1]), {}, one); !a) return a;
            if (!one.empty()) out[i] = one.begin()->second;
        }
        return ok();
    });
    if (!r) return fail(r.error());
    return out;
}

lt::Result<std::vector<GroupTotals>> SqlUsageStore::breakdown(const UsageScope& scope, TimeRange range,
                                                              UsageDimension by) {
    std::map<std::string, UsageTotals> groups;
    auto r = db_.transact_sync([&](SqlSession& s) -> Result<void> {
        if (auto snap = one_snapshot(db_, s); !snap) return snap;
        groups.clear();
        if (by == UsageDimension::model) return model_sums(s, scope, to_ms(range.from), to_ms(range.to), groups);
        return accumulate(s, scope, to_ms(range.from), to_ms(range.to),
                          by == UsageDimension::provider ? "provider" : "user_id", groups);
    });
    if (!r) return fail(r.error());
    std::vector<GroupTotals> out;
    out.reserve(groups.size());
    for (auto& [key, t] : groups) out.push_back(GroupTotals{key, t});
    return out;
}

lt::Result<PurchaseTotals> SqlUsageStore::purchases(const UsageScope& scope, TimeRange range) {
    PurchaseTotals out;
    const std::int64_t from = to_ms(range.from);
    const std::int64_t to = to_ms(range.to);
    if (from >= to) return out;
    auto r = db_.transact_sync([&](SqlSession& s) -> Result<void> {
        if (auto snap = one_snapshot(db_, s); !snap) return snap;
        Where w;
        w.scope(scope);
        w.at_least("occurred_at", from);
        w.below("occurred_at", to);
        auto counts = s.execute(
            "SELECT COUNT(DISTINCT CASE WHEN event = 'TOKEN_PURCHASE_STARTED' THEN saga_id END), "
            "COUNT(DISTINCT CASE WHEN event = 'TOKEN_PURCHASE_COMPLETED' THEN saga_id END), "
            "COUNT(DISTINCT CASE WHEN event = 'TOKEN_PURCHASE_FAILED' THEN saga_id END) "
            "FROM analytics_purchase_events" + w.sql(),
            std::span<const SqlValue>(w.params()));
        if (!counts) return fail(counts.error());
        const auto& row = counts->rows.at(0);
        out.started = lt::ports::as_int(row.at(0)).value_or(0);
        out.completed = lt::ports::as_int(row.at(1)).value_or(0);
        out.failed = lt::ports::as_int(row.at(2)).value_or(0);
        // A saga's tokens once, even if its completion was reported by several events.
        auto tokens = s.execute(
            "SELECT CAST(COALESCE(SUM(saga_tokens), 0) AS BIGINT) FROM (SELECT saga_id, MAX(tokens) AS saga_tokens "
            "FROM analytics_purchase_events" + w.sql() + " AND event = 'TOKEN_PURCHASE_COMPLETED' GROUP BY saga_id) done",
            std::span<const SqlValue>(w.params()));
        if (!tokens) return fail(tokens.error());
        out.purchased_tokens = lt::ports::as_int(tokens->rows.at(0).at(0)).value_or(0);
        return ok();
    });
    if (!r) return fail(r.error());
    return out;
}

lt::Result<std::size_t> SqlUsageStore::purge(UsageTime raw_before, UsageTime rollups_before, std::size_t max_rows) {
    if (max_rows == 0) return std::size_t{0};
    std::size_t deleted = 0;
    auto r = db_.transact_sync([&](SqlSession& s) -> Result<void> {
        deleted = 0;
        const std::int64_t raw = to_ms(raw_before);
        // Only minutes that ended before the cutoff: a rollup row is never cut in half. Never rollups
        // of raw events that stay: raw events are found through their rollups' providers.
        const std::int64_t minute = minute_floor(std::min(to_ms(rollups_before), raw));
        const std::pair<std::string_view, std::int64_t> statements[] = {
            {"DELETE FROM analytics_usage_events WHERE id IN (SELECT id FROM analytics_usage_events "
             "WHERE provider IN (SELECT DISTINCT provider FROM analytics_rollup_provider) AND occurred_at < $1 "
             "LIMIT $2)",
             raw},
            {"DELETE FROM analytics_purchase_events WHERE id IN (SELECT id FROM analytics_purchase_events "
             "WHERE occurred_at < $1 ORDER BY occurred_at LIMIT $2)",
             raw},
            {"DELETE FROM analytics_rollup_provider WHERE (provider, minute) IN (SELECT provider, minute "
             "FROM analytics_rollup_provider WHERE minute < $1 ORDER BY minute LIMIT $2)",
             minute},
            {"DELETE FROM analytics_rollup_user WHERE (user_id, provider, minute) IN (SELECT user_id, provider, "
             "minute FROM analytics_rollup_user WHERE minute < $1 ORDER BY minute LIMIT $2)",
             minute},
        };
        for (const auto& [sql, before] : statements) {
            auto n = delete_some(s, sql, before, max_rows);
            if (!n) return fail(n.error());
            deleted += *n;
        }
        return ok();
    });
    if (!r) return fail(r.error());
    return deleted;
}

lt::Result<std::size_t> SqlUsageStore::compact_usage(UsageTime before, std::size_t max_rows) {
    if (max_rows == 0) return std::size_t{0};
    std::size_t deleted = 0;
    auto r = db_.transact_sync([&](SqlSession& s) -> Result<void> {
        // Whole minutes only, so a minute's raw events go together (its rollup holds their totals).
        auto n = delete_some(s,
                             "DELETE FROM analytics_usage_events WHERE id IN (SELECT id FROM analytics_usage_events "
                             "WHERE provider IN (SELECT DISTINCT provider FROM analytics_rollup_provider) AND occurred_at < $1 "
                             "LIMIT $2)",
                             minute_floor(to_ms(before)), max_rows);
        if (!n) return fail(n.error());
        deleted = *n;
        return ok();
    });
    if (!r) return fail(r.error());
    return deleted;
}

}  // namespace lt::adapters
