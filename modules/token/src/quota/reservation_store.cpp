#include "quota/reservation_store.hpp"

#include <algorithm>
#include <span>

#include "lt/core/time.hpp"

namespace lt::token {

using ports::SqlValue;

namespace {

SqlValue text(std::string_view v) { return SqlValue(std::string(v)); }

SqlValue time_value(const std::optional<std::chrono::system_clock::time_point>& tp) {
    return tp ? SqlValue(format_rfc3339(*tp)) : SqlValue(nullptr);
}

constexpr std::string_view kLoadSql =
    "SELECT id, allowance, allowance_remaining, purchased_total, purchased_remaining, reset_time, created_at, "
    "updated_at FROM token_pools WHERE owner_type = $1 AND owner_id = $2 AND provider = $3";
constexpr std::string_view kLoadLockedSql =
    "SELECT id, allowance, allowance_remaining, purchased_total, purchased_remaining, reset_time, created_at, "
    "updated_at FROM token_pools WHERE owner_type = $1 AND owner_id = $2 AND provider = $3 FOR UPDATE";

std::optional<std::chrono::system_clock::time_point> time_of(const SqlValue& v) {
    auto t = ports::as_text(v);
    return t ? parse_rfc3339(*t) : std::nullopt;
}

/// The stamp as stored: both sides of a window comparison go through the same millisecond text.
std::optional<std::string> stamp(const std::optional<std::chrono::system_clock::time_point>& tp) {
    return tp ? std::optional<std::string>(format_rfc3339(*tp)) : std::nullopt;
}

}  // namespace

Result<std::optional<StoredPool>> load_pool_locked(ports::SqlSession& session, const PoolKey& key, bool lock) {
    auto r = session.execute(lock ? kLoadLockedSql : kLoadSql,
                             {text(to_string(key.type)), text(key.owner_id), text(key.provider)});
    if (!r) return fail(r.error());
    if (r->rows.empty()) return std::optional<StoredPool>();
    const auto& row = r->rows.front();
    if (row.size() < 8) return fail(Errc::internal, "token_pools select returned too few columns");
    StoredPool p;
    p.id = ports::as_text(row[0]).value_or("");
    p.balance.allowance = ports::as_int(row[1]).value_or(0);
    p.balance.allowance_remaining = ports::as_int(row[2]).value_or(0);
    p.balance.purchased_total = ports::as_int(row[3]).value_or(0);
    p.balance.purchased_remaining = ports::as_int(row[4]).value_or(0);
    p.balance.reset_time = time_of(row[5]);
    p.created_at = time_of(row[6]).value_or(std::chrono::system_clock::time_point{});
    p.updated_at = time_of(row[7]).value_or(p.created_at);
    return std::optional<StoredPool>(std::move(p));
}

Result<void> insert_reservation(ports::SqlSession& session, const StoredReservation& r,
                                std::chrono::system_clock::time_point now,
                                std::chrono::system_clock::time_point expires_at) {
    auto q = session.execute(
        "INSERT INTO token_reservations (id, owner_type, owner_id, provider, from_allowance, from_purchased, "
        "window_reset, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        {text(r.id), text(to_string(r.key.type)), text(r.key.owner_id), text(r.key.provider),
         SqlValue(r.split.from_allowance), SqlValue(r.split.from_purchased), time_value(r.window_reset),
         SqlValue(format_rfc3339(now)), SqlValue(format_rfc3339(expires_at))});
    if (!q) return fail(q.error());
    return ok();
}

namespace {

// One round trip instead of three (SELECT ... FOR UPDATE, UPDATE, INSERT). p locks the row and reads
// the latest committed version (READ COMMITTED); u debits from p's values; i inserts the reservation
// only when u debited. Overflow-safe: a + p ≥ min is tested as a ≥ min − p, and min(max, a + p) as
// (a ≥ max − p ? max : a + p). reset_time is stored as fixed-width RFC 3339 text (format_rfc3339), so
// the text comparison is the time comparison; "reset_time > now" is strict, so a window due within
// this millisecond takes the general path.
#define LT_RESERVE_ONE(WINDOW)                                                                          \
    "WITH p AS (SELECT owner_type, owner_id, provider, allowance_remaining AS a, purchased_remaining AS pr, " \
    "reset_time AS rt, CASE WHEN allowance_remaining >= $5::bigint - purchased_remaining THEN $5::bigint " \
    "ELSE allowance_remaining + purchased_remaining END AS n FROM token_pools "                        \
    "WHERE owner_type = $1 AND owner_id = $2 AND provider = $3 FOR UPDATE), "                           \
    "u AS (UPDATE token_pools t SET allowance_remaining = p.a - LEAST(p.n, p.a), "                      \
    "purchased_remaining = p.pr - (p.n - LEAST(p.n, p.a)), updated_at = $6 FROM p "                     \
    "WHERE t.owner_type = p.owner_type AND t.owner_id = p.owner_id AND t.provider = p.provider "         \
    "AND p.a >= $4::bigint - p.pr " WINDOW                                                              \
    "RETURNING LEAST(p.n, p.a) AS fa, p.n - LEAST(p.n, p.a) AS fp, p.rt AS rt), "                       \
    "i AS (INSERT INTO token_reservations (id, owner_type, owner_id, provider, from_allowance, "         \
    "from_purchased, window_reset, created_at, expires_at) SELECT $7, $1, $2, $3, fa, fp, rt, $6, $8 FROM u " \
    "RETURNING 1) "                                                                                     \
    "SELECT fa, fp, rt, (SELECT count(*) FROM i) FROM u"
constexpr std::string_view kReserveOneSql = LT_RESERVE_ONE("AND p.rt IS NOT NULL AND p.rt > $6 ");
constexpr std::string_view kReserveOneNoWindowSql = LT_RESERVE_ONE("");
#undef LT_RESERVE_ONE

}  // namespace

BoundStatement bind_reserve_one(const StoredReservation& r, std::int64_t min_tokens, std::int64_t max_tokens,
                                bool window_enabled, std::chrono::system_clock::time_point now,
                                std::chrono::system_clock::time_point expires_at) {
    return BoundStatement{window_enabled ? kReserveOneSql : kReserveOneNoWindowSql,
                          {text(to_string(r.key.type)), text(r.key.owner_id), text(r.key.provider), SqlValue(min_tokens),
                           SqlValue(max_tokens), SqlValue(format_rfc3339(now)), text(r.id),
                           SqlValue(format_rfc3339(expires_at))}};
}

Result<bool> reserve_in_one_statement(ports::SqlSession& session, StoredReservation& r, std::int64_t min_tokens,
                                      std::int64_t max_tokens, bool window_enabled,
                                      std::chrono::system_clock::time_point now,
                                      std::chrono::system_clock::time_point expires_at) {
    const auto st = bind_reserve_one(r, min_tokens, max_tokens, window_enabled, now, expires_at);
    auto q = session.execute(st.sql, std::span<const SqlValue>(st.params));
    if (!q) return fail(q.error());
    if (q->rows.empty()) return false;
    const auto& row = q->rows.front();
    if (row.size() < 4 || ports::as_int(row[3]).value_or(0) != 1) {
        return fail(Errc::internal, "reservation insert of the one-statement reserve did not happen");
    }
    r.split.from_allowance = ports::as_int(row[0]).value_or(0);
    r.split.from_purchased = ports::as_int(row[1]).value_or(0);
    r.window_reset = time_of(row[2]);
    return true;
}

Result<BoundStatement> bind_settle_one(const std::string& id, const BoundStatement& outbox) {
    // bind_outbox_insert(): "INSERT INTO token_outbox (...) VALUES ($1, ..., $6)" → "... SELECT ... FROM d".
    static const std::string sql = [] {
        return std::string("WITH d AS (DELETE FROM token_reservations WHERE id = $7 RETURNING 1) "
                           "INSERT INTO token_outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at) "
                           "SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text FROM d");
    }();
    if (outbox.params.size() != 6 ||
        outbox.sql.rfind("INSERT INTO token_outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at) "
                         "VALUES ($1, $2, $3, $4, $5, $6)",
                         0) != 0) {
        return fail(Errc::internal, "unexpected outbox row shape");
    }
    BoundStatement st{sql, outbox.params};
    st.params.push_back(text(id));
    return st;
}

Result<bool> settle_in_one_statement(ports::SqlSession& session, const std::string& id, const BoundStatement& outbox) {
    auto st = bind_settle_one(id, outbox);
    if (!st) return fail(st.error());
    auto q = session.execute(st->sql, std::span<const SqlValue>(st->params));
    if (!q) return fail(q.error());
    return q->affected == 1;
}

Result<bool> delete_reservation(ports::SqlSession& session, const std::string& id) {
    auto q = session.execute("DELETE FROM token_reservations WHERE id = $1", {text(id)});
    if (!q) return fail(q.error());
    return q->affected == 1;
}

Result<void> refund_split(ports::SqlSession& session, const StoredReservation& r, bool lock,
                          std::chrono::system_clock::time_point now) {
    auto loaded = load_pool_locked(session, r.key, lock);
    if (!loaded) return fail(loaded.error());
    if (!*loaded) return ok();
    PoolBalance b = (*loaded)->balance;
    if (stamp(b.reset_time) == stamp(r.window_reset)) {
        b.allowance_remaining = std::min(b.allowance, saturating_add(b.allowance_remaining, r.split.from_allowance));
    }
    const std::int64_t room = b.purchased_total - b.purchased_remaining;  // p never exceeds P
    const std::int64_t credit = std::clamp<std::int64_t>(r.split.from_purchased, 0, std::max<std::int64_t>(room, 0));
    const BoundStatement write = bind_balance_write(r.key, b, -credit, now);
    return run_statements(session, std::span(&write, 1));
}

Result<std::vector<StoredReservation>> load_expired_reservations(ports::SqlSession& session,
                                                                 std::chrono::system_clock::time_point cutoff,
                                                                 std::size_t limit) {
    auto q = session.execute(
        "SELECT id, owner_type, owner_id, provider, from_allowance, from_purchased, window_reset "
        "FROM token_reservations WHERE expires_at < $1 ORDER BY expires_at LIMIT $2",
        {SqlValue(format_rfc3339(cutoff)), SqlValue(static_cast<std::int64_t>(limit))});
    if (!q) return fail(q.error());
    std::vector<StoredReservation> out;
    out.reserve(q->rows.size());
    for (const auto& row : q->rows) {
        if (row.size() < 7) return fail(Errc::internal, "token_reservations select returned too few columns");
        StoredReservation r;
        r.id = ports::as_text(row[0]).value_or("");
        r.key.type = ports::as_text(row[1]).value_or("user") == "org" ? OwnerType::org : OwnerType::user;
        r.key.owner_id = ports::as_text(row[2]).value_or("");
        r.key.provider = ports::as_text(row[3]).value_or("");
        r.split.from_allowance = ports::as_int(row[4]).value_or(0);
        r.split.from_purchased = ports::as_int(row[5]).value_or(0);
        r.window_reset = time_of(row[6]);
        out.push_back(std::move(r));
    }
    return out;
}

Result<bool> insert_pool_if_absent(ports::SqlSession& session, const PoolKey& key, const std::string& id,
                                   const PoolBalance& balance, std::chrono::system_clock::time_point now) {
    auto stamp_now = format_rfc3339(now);
    auto q = session.execute(
        "INSERT INTO token_pools (id, owner_type, owner_id, provider, allowance, allowance_remaining, "
        "purchased_total, purchased_remaining, reset_time, created_at, updated_at) "
        "VALUES ($4, $1, $2, $3, $5, $6, 0, 0, $7, $8, $8) "
        "ON CONFLICT (owner_type, owner_id, provider) DO NOTHING",
        {text(to_string(key.type)), text(key.owner_id), text(key.provider), text(id), SqlValue(balance.allowance),
         SqlValue(balance.allowance_remaining), time_value(balance.reset_time), SqlValue(std::move(stamp_now))});
    if (!q) return fail(q.error());
    return q->affected == 1;
}

PoolView view_of_stored(const StoredPool& pool) {
    PoolView v;
    v.allowance = pool.balance.allowance;
    v.allowance_remaining = pool.balance.allowance_remaining;
    v.purchased_total = pool.balance.purchased_total;
    v.purchased_remaining = pool.balance.purchased_remaining;
    v.pending = 0;
    v.reset_time = pool.balance.reset_time;
    v.created_at = pool.created_at;
    v.updated_at = pool.updated_at;
    return v;
}

}  // namespace lt::token
