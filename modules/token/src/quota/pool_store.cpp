#include "quota/pool_store.hpp"

#include <limits>

#include "lt/core/time.hpp"

namespace lt::token {

using ports::as_int;
using ports::as_text;
using ports::SqlValue;

namespace {

SqlValue text(std::string_view v) { return SqlValue(std::string(v)); }

SqlValue time_value(const std::optional<std::chrono::system_clock::time_point>& tp) {
    return tp ? SqlValue(format_rfc3339(*tp)) : SqlValue(nullptr);
}

std::optional<std::chrono::system_clock::time_point> time_column(const ports::SqlRow& row, std::size_t i) {
    auto t = i < row.size() ? as_text(row[i]) : std::nullopt;
    return t ? parse_rfc3339(*t) : std::nullopt;
}

std::int64_t int_column(const ports::SqlRow& row, std::size_t i) {
    return i < row.size() ? as_int(row[i]).value_or(0) : 0;
}

}  // namespace

std::string_view to_string(OwnerType type) { return type == OwnerType::org ? "org" : "user"; }

Result<void> run_statements(ports::SqlSession& session, std::span<const BoundStatement> statements) {
    for (const auto& st : statements) {
        auto r = session.execute(st.sql, std::span<const SqlValue>(st.params));
        if (!r) return fail(r.error());
        if (st.expect_one_row && r->affected != 1) return fail(Errc::internal, "quota pool row missing");
    }
    return ok();
}

Result<std::optional<StoredPool>> load_pool(ports::SqlSession& session, const PoolKey& key) {
    auto r = session.execute(
        "SELECT id, allowance, allowance_remaining, purchased_total, purchased_remaining, reset_time, created_at, "
        "updated_at FROM token_pools WHERE owner_type = $1 AND owner_id = $2 AND provider = $3",
        {text(to_string(key.type)), text(key.owner_id), text(key.provider)});
    if (!r) return fail(r.error());
    if (r->rows.empty()) return std::optional<StoredPool>();
    const auto& row = r->rows.front();
    StoredPool p;
    p.id = as_text(row[0]).value_or("");
    p.balance.allowance = int_column(row, 1);
    p.balance.allowance_remaining = int_column(row, 2);
    p.balance.purchased_total = int_column(row, 3);
    p.balance.purchased_remaining = int_column(row, 4);
    p.balance.reset_time = time_column(row, 5);
    p.created_at = time_column(row, 6).value_or(std::chrono::system_clock::time_point{});
    p.updated_at = time_column(row, 7).value_or(p.created_at);
    return std::optional<StoredPool>(std::move(p));
}

BoundStatement bind_balance_write(const PoolKey& key, const PoolBalance& balance, std::int64_t purchased_debit,
                                  std::chrono::system_clock::time_point now) {
    return BoundStatement{
        "UPDATE token_pools SET allowance = $4, allowance_remaining = $5, reset_time = $6, "
        "purchased_remaining = purchased_remaining - $7, updated_at = $8 "
        "WHERE owner_type = $1 AND owner_id = $2 AND provider = $3",
        {text(to_string(key.type)), text(key.owner_id), text(key.provider), SqlValue(balance.allowance),
         SqlValue(balance.allowance_remaining), time_value(balance.reset_time), SqlValue(purchased_debit),
         SqlValue(format_rfc3339(now))},
        true};
}

BoundStatement bind_allowance_upsert(const PoolKey& key, const std::string& id, const PoolBalance& balance,
                                     std::chrono::system_clock::time_point now) {
    auto stamp = format_rfc3339(now);
    return BoundStatement{
        "INSERT INTO token_pools (id, owner_type, owner_id, provider, allowance, allowance_remaining, "
        "purchased_total, purchased_remaining, reset_time, created_at, updated_at) "
        "VALUES ($4, $1, $2, $3, $5, $6, 0, 0, $7, $8, $8) "
        "ON CONFLICT (owner_type, owner_id, provider) DO UPDATE SET allowance = excluded.allowance, "
        "allowance_remaining = excluded.allowance_remaining, reset_time = excluded.reset_time, "
        "updated_at = excluded.updated_at",
        {text(to_string(key.type)), text(key.owner_id), text(key.provider), text(id), SqlValue(balance.allowance),
         SqlValue(balance.allowance_remaining), time_value(balance.reset_time), SqlValue(std::move(stamp))},
        true};
}

BoundStatement bind_outbox_insert(const OutboxRow& row) {
    return BoundStatement{
        "INSERT INTO token_outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        {text(row.id), text(row.aggregate_type), row.aggregate_id ? text(*row.aggregate_id) : SqlValue(nullptr),
         text(row.event_type), text(row.payload), SqlValue(format_rfc3339(row.created_at))},
        true};
}

Result<void> credit_purchase_sql(ports::SqlSession& session, const PoolKey& key, std::int64_t n,
                                 std::chrono::system_clock::time_point now) {
    if (n <= 0) return fail(Errc::invalid_argument, "tokens must be positive");
    auto existing = load_pool(session, key);
    if (!existing) return fail(existing.error());
    constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
    if (*existing) {
        const auto& b = (*existing)->balance;
        if (b.purchased_total > kMax - n || b.allowance > kMax - n - b.purchased_total) {
            return fail(Errc::invalid_argument, "token balance would overflow");
        }
    }
    auto stamp = format_rfc3339(now);
    auto r = session.execute(
        "INSERT INTO token_pools (id, owner_type, owner_id, provider, allowance, allowance_remaining, "
        "purchased_total, purchased_remaining, reset_time, created_at, updated_at) "
        "VALUES ($4, $1, $2, $3, 0, 0, $5, $5, NULL, $6, $6) "
        "ON CONFLICT (owner_type, owner_id, provider) DO UPDATE SET "
        "purchased_total = token_pools.purchased_total + excluded.purchased_total, "
        "purchased_remaining = token_pools.purchased_remaining + excluded.purchased_remaining, "
        "updated_at = excluded.updated_at",
        {text(to_string(key.type)), text(key.owner_id), text(key.provider), text(new_uuid()), SqlValue(n),
         SqlValue(std::move(stamp))});
    if (!r) return fail(r.error());
    return ok();
}

}  // namespace lt::token
