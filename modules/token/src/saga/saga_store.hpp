#pragma once
/// SQL and value types of the purchase saga (tables token_purchase_saga and token_outbox).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"
#include "quota/quota_types.hpp"

namespace lt::token {


/// STARTED → PAYMENT_RESERVED → TOKENS_ALLOCATED → COMPLETED, or FAILED from any non-terminal state.
enum class SagaStatus { started, payment_reserved, tokens_allocated, completed, failed };

/// "STARTED", "PAYMENT_RESERVED", ... (the wire and column value).
std::string_view to_string(SagaStatus status);
/// Inverse of to_string; nullopt for anything else.
std::optional<SagaStatus> parse_saga_status(std::string_view text);

/// One purchase as stored.
struct Saga {
    std::string id;
    std::string user_id;
    std::optional<std::string> org_id;
    std::string provider;  ///< lower-case
    std::int64_t tokens = 0;
    SagaStatus status = SagaStatus::started;
    std::optional<std::string> idempotency_key;
    std::optional<std::string> failure_reason;
    std::chrono::system_clock::time_point created_at;
    std::chrono::system_clock::time_point updated_at;

    bool terminal() const { return status == SagaStatus::completed || status == SagaStatus::failed; }
    /// The pool the purchase credits (the org's when orgId is set, else the user's).
    PoolKey pool() const;
    /// True when `other` asks for the same purchase (user, org, provider, tokens).
    bool same_payload(const Saga& other) const;
};

/// The saga as its JSON record (T6 body, and the payload of its events with `event` added).
std::string saga_json(const Saga& saga);

/// Reads one saga (nullopt when absent).
Result<std::optional<Saga>> load_saga(ports::SqlSession& session, std::string_view id);
/// The saga of `user_id` with idempotency key `key` (nullopt when absent).
Result<std::optional<Saga>> find_saga_by_key(ports::SqlSession& session, std::string_view user_id,
                                             std::string_view key);
/// Inserts a new saga. Errc::conflict when (user, key) is taken (unique index).
Result<void> insert_saga(ports::SqlSession& session, const Saga& saga);
/// Compare-and-set of the status: moves `saga` from saga.status to `to` (with `reason` when failing) and
/// updates `saga` in place. Errc::conflict when the stored status is no longer saga.status (another
/// actor moved it first): nothing changed.
Result<void> transition_saga(ports::SqlSession& session, Saga& saga, SagaStatus to,
                             std::chrono::system_clock::time_point now,
                             std::optional<std::string> reason = std::nullopt);
/// Non-terminal sagas last updated before `cutoff`, oldest first, at most `limit`.
Result<std::vector<Saga>> load_stale_sagas(ports::SqlSession& session, std::chrono::system_clock::time_point cutoff,
                                           std::size_t limit);
/// FAILED sagas updated before `cutoff` whose compensation (payment release) is not recorded yet,
/// oldest first, at most `limit`.
Result<std::vector<Saga>> load_uncompensated(ports::SqlSession& session, std::chrono::system_clock::time_point cutoff,
                                             std::size_t limit);
/// Claims the recovery of `saga` for `owner` until `until`: a conditional UPDATE that succeeds only
/// while the saga still has the status and updated_at it was loaded with and no other process holds an
/// unexpired claim (its own claim it may take again). True when this call claimed it (then no other process recovers it before `until`).
Result<bool> claim_recovery(ports::SqlSession& session, const Saga& saga, std::string_view owner,
                            std::chrono::system_clock::time_point now, std::chrono::system_clock::time_point until);
/// Records that the payment of FAILED saga `id` was released; false when it already was.
Result<bool> mark_compensated(ports::SqlSession& session, std::string_view id, std::chrono::system_clock::time_point now);

/// The outbox row of a saga event: a token::PurchaseEvent (lt/token/token.hpp) of step `event_type`.
OutboxRow saga_event(const Saga& saga, std::string_view event_type, std::string_view aggregate_type,
                     std::chrono::system_clock::time_point now);

}  // namespace lt::token
