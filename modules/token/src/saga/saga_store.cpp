#include "saga/saga_store.hpp"

#include <array>

#include <boost/json.hpp>

#include "lt/core/time.hpp"
#include "lt/token/token.hpp"
#include "quota/event_id.hpp"

namespace lt::token {

using ports::SqlValue;

namespace {

constexpr std::array<std::string_view, 5> kStatusNames{"STARTED", "PAYMENT_RESERVED", "TOKENS_ALLOCATED", "COMPLETED",
                                                        "FAILED"};

constexpr std::string_view kColumns =
    "id, user_id, org_id, provider, tokens, status, idempotency_key, failure_reason, created_at, updated_at";

SqlValue text(std::string_view v) { return SqlValue(std::string(v)); }
SqlValue optional_text(const std::optional<std::string>& v) { return v ? SqlValue(*v) : SqlValue(nullptr); }
SqlValue time_value(std::chrono::system_clock::time_point tp) { return SqlValue(format_rfc3339(tp)); }

Result<Saga> saga_from_row(const ports::SqlRow& row) {
    Saga s;
    s.id = ports::as_text(row[0]).value_or("");
    s.user_id = ports::as_text(row[1]).value_or("");
    s.org_id = ports::as_text(row[2]);
    s.provider = ports::as_text(row[3]).value_or("");
    s.tokens = ports::as_int(row[4]).value_or(0);
    auto status = parse_saga_status(ports::as_text(row[5]).value_or(""));
    if (!status) return fail(Errc::internal, "saga " + s.id + " has an unknown status");
    s.status = *status;
    s.idempotency_key = ports::as_text(row[6]);
    s.failure_reason = ports::as_text(row[7]);
    auto created = parse_rfc3339(ports::as_text(row[8]).value_or(""));
    auto updated = parse_rfc3339(ports::as_text(row[9]).value_or(""));
    if (!created || !updated) return fail(Errc::internal, "saga " + s.id + " has an unreadable timestamp");
    s.created_at = *created;
    s.updated_at = *updated;
    return s;
}

Result<std::vector<Saga>> sagas_from(Result<ports::SqlResult> result) {
    if (!result) return fail(result.error());
    std::vector<Saga> out;
    out.reserve(result->rows.size());
    for (const auto& row : result->rows) {
        auto s = saga_from_row(row);
        if (!s) return fail(s.error());
        out.push_back(std::move(*s));
    }
    return out;
}

Result<std::optional<Saga>> first_saga(Result<ports::SqlResult> result) {
    auto sagas = sagas_from(std::move(result));
    if (!sagas) return fail(sagas.error());
    if (sagas->empty()) return std::optional<Saga>();
    return std::optional<Saga>(std::move(sagas->front()));
}

std::string select_sql(std::string_view where) {
    return "SELECT " + std::string(kColumns) + " FROM token_purchase_saga WHERE " + std::string(where);
}

}  // namespace

std::string_view to_string(SagaStatus status) { return kStatusNames[static_cast<std::size_t>(status)]; }

std::optional<SagaStatus> parse_saga_status(std::string_view text) {
    for (std::size_t i = 0; i < kStatusNames.size(); ++i) {
        if (kStatusNames[i] == text) return static_cast<SagaStatus>(i);
    }
    return std::nullopt;
}

PoolKey Saga::pool() const {
    if (org_id) return PoolKey{OwnerType::org, *org_id, provider};
    return PoolKey{OwnerType::user, user_id, provider};
}

bool Saga::same_payload(const Saga& other) const {
    return user_id == other.user_id && org_id == other.org_id && provider == other.provider && tokens == other.tokens;
}

namespace {
boost::json::object saga_object(const Saga& s) {
    auto opt = [](const std::optional<std::string>& v) { return v ? boost::json::value(*v) : boost::json::value(nullptr); };
    return boost::json::object{{"id", s.id},
                               {"userId", s.user_id},
                               {"orgId", opt(s.org_id)},
                               {"provider", s.provider},
                               {"tokens", s.tokens},
                               {"idempotencyKey", opt(s.idempotency_key)},
                               {"status", to_string(s.status)},
                               {"createdAt", format_rfc3339(s.created_at)},
                               {"updatedAt", format_rfc3339(s.updated_at)}};
}
}  // namespace

std::string saga_json(const Saga& saga) { return boost::json::serialize(saga_object(saga)); }

Result<std::optional<Saga>> load_saga(ports::SqlSession& session, std::string_view id) {
    static const std::string sql = select_sql("id = $1");
    return first_saga(session.execute(sql, {text(id)}));
}

Result<std::optional<Saga>> find_saga_by_key(ports::SqlSession& session, std::string_view user_id,
                                             std::string_view key) {
    static const std::string sql = select_sql("user_id = $1 AND idempotency_key = $2");
    return first_saga(session.execute(sql, {text(user_id), text(key)}));
}

Result<void> insert_saga(ports::SqlSession& session, const Saga& s) {
    auto r = session.execute(
        "INSERT INTO token_purchase_saga (id, user_id, org_id, provider, tokens, status, idempotency_key, "
        "failure_reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        {text(s.id), text(s.user_id), optional_text(s.org_id), text(s.provider), SqlValue(s.tokens),
         text(to_string(s.status)), optional_text(s.idempotency_key), optional_text(s.failure_reason),
         time_value(s.created_at), time_value(s.updated_at)});
    if (!r) return fail(r.error());
    return ok();
}

Result<void> transition_saga(ports::SqlSession& session, Saga& saga, SagaStatus to,
                             std::chrono::system_clock::time_point now, std::optional<std::string> reason) {
    auto r = session.execute(
        "UPDATE token_purchase_saga SET status = $1, failure_reason = COALESCE($2, failure_reason), updated_at = $3 "
        "WHERE id = $4 AND status = $5",
        {text(to_string(to)), optional_text(reason), time_value(now), text(saga.id), text(to_string(saga.status))});
    if (!r) return fail(r.error());
    if (r->affected != 1) return fail(Errc::conflict, "saga " + saga.id + " is no longer " + std::string(to_string(saga.status)));
    saga.status = to;
    if (reason) saga.failure_reason = std::move(reason);
    saga.updated_at = now;
    return ok();
}

Result<std::vector<Saga>> load_stale_sagas(ports::SqlSession& session, std::chrono::system_clock::time_point cutoff,
                                           std::size_t limit) {
    static const std::string sql =
        select_sql("status IN ('STARTED', 'PAYMENT_RESERVED', 'TOKENS_ALLOCATED') AND updated_at < $1 "
                   "ORDER BY updated_at LIMIT $2");
    return sagas_from(session.execute(sql, {time_value(cutoff), SqlValue(static_cast<std::int64_t>(limit))}));
}

Result<std::vector<Saga>> load_uncompensated(ports::SqlSession& session, std::chrono::system_clock::time_point cutoff,
                                             std::size_t limit) {
    static const std::string sql = select_sql(
        "status = 'FAILED' AND compensated_at IS NULL AND updated_at < $1 ORDER BY updated_at LIMIT $2");
    return sagas_from(session.execute(sql, {time_value(cutoff), SqlValue(static_cast<std::int64_t>(limit))}));
}

Result<bool> claim_recovery(ports::SqlSession& session, const Saga& saga, std::string_view owner,
                            std::chrono::system_clock::time_point now, std::chrono::system_clock::time_point until) {
    auto r = session.execute(
        "UPDATE token_purchase_saga SET recovery_owner = $1, recovery_until = $2 "
        "WHERE id = $3 AND status = $4 AND updated_at = $5 "
        "AND (recovery_until IS NULL OR recovery_until < $6 OR recovery_owner = $1)",
        {text(owner), time_value(until), text(saga.id), text(to_string(saga.status)), time_value(saga.updated_at),
         time_value(now)});
    if (!r) return fail(r.error());
    return r->affected == 1;
}

Result<bool> mark_compensated(ports::SqlSession& session, std::string_view id, std::chrono::system_clock::time_point now) {
    auto r = session.execute(
        "UPDATE token_purchase_saga SET compensated_at = $1 WHERE id = $2 AND compensated_at IS NULL",
        {time_value(now), text(id)});
    if (!r) return fail(r.error());
    return r->affected == 1;
}

OutboxRow saga_event(const Saga& saga, std::string_view event_type, std::string_view aggregate_type,
                     std::chrono::system_clock::time_point now) {
    OutboxRow row;
    row.id = new_event_id();
    row.aggregate_type = std::string(aggregate_type);
    row.aggregate_id = saga.id;
    row.event_type = std::string(event_type);
    row.created_at = now;
    PurchaseEvent event{row.id,
                        std::string(kPurchase.name),
                        format_rfc3339(now),
                        PurchasePayload{std::string(event_type), saga.id, saga.user_id, saga.org_id, saga.provider,
                                        saga.tokens, saga.idempotency_key, std::string(to_string(saga.status)),
                                        format_rfc3339(saga.created_at), format_rfc3339(saga.updated_at)}};
    row.payload = boost::json::serialize(boost::json::value_from(event));
    return row;
}

}  // namespace lt::token
