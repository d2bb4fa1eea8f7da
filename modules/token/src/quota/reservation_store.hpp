#pragma once
/// SQL of the shared quota mode (tables token_pools and token_reservations). Every function runs inside
/// a transaction the caller opened (a group-commit batch or SqlDatabase::transact), on that
/// transaction's thread. Portable: the same statements run on SQLite and PostgreSQL; the pool row is
/// read with FOR UPDATE on PostgreSQL (on SQLite, BEGIN IMMEDIATE already holds the database's write
/// lock).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"
#include "quota/pool_math.hpp"
#include "quota/pool_store.hpp"
#include "quota/quota_types.hpp"

namespace lt::token {

/// One reservation as stored: the split of its debit and the window it was taken from.
struct StoredReservation {
    std::string id;
    PoolKey key;
    Debit split;
    std::optional<std::chrono::system_clock::time_point> window_reset;  ///< the pool's reset_time at reserve
};

/// Reads the pool of `key` and, when `lock` is set (PostgreSQL), locks its row until the end of the
/// transaction (SELECT ... FOR UPDATE). nullopt when there is none.
Result<std::optional<StoredPool>> load_pool_locked(ports::SqlSession& session, const PoolKey& key, bool lock);

/// Inserts the reservation row (expires at `expires_at`).
Result<void> insert_reservation(ports::SqlSession& session, const StoredReservation& r,
                                std::chrono::system_clock::time_point now,
                                std::chrono::system_clock::time_point expires_at);

/// PostgreSQL only, one statement: locks the pool row, and when its window is not due (or windows are
/// off: `window_enabled` false) and a + p ≥ `min_tokens`, debits min(max_tokens, a + p) (a first, then
/// p) and inserts the reservation row `r` (id and key set) expiring at `expires_at`. Fills r.split and
/// r.window_reset and returns true when it reserved; false when the general path must decide (no pool,
/// window due or unset, not enough tokens): nothing was changed then, the row may be locked.
Result<bool> reserve_in_one_statement(ports::SqlSession& session, StoredReservation& r, std::int64_t min_tokens,
                                      std::int64_t max_tokens, bool window_enabled,
                                      std::chrono::system_clock::time_point now,
                                      std::chrono::system_clock::time_point expires_at);

/// PostgreSQL only, one statement: deletes the reservation row `id` and, only if it was there, inserts
/// the outbox row `outbox` (a bind_outbox_insert() statement). True when the row was there.
Result<bool> settle_in_one_statement(ports::SqlSession& session, const std::string& id, const BoundStatement& outbox);

/// The one statement reserve_in_one_statement() runs (its group-commit lead).
BoundStatement bind_reserve_one(const StoredReservation& r, std::int64_t min_tokens, std::int64_t max_tokens,
                                bool window_enabled, std::chrono::system_clock::time_point now,
                                std::chrono::system_clock::time_point expires_at);
/// The one statement settle_in_one_statement() runs (its group-commit lead); fails on an outbox row
/// of another shape than bind_outbox_insert()'s.
Result<BoundStatement> bind_settle_one(const std::string& id, const BoundStatement& outbox);

/// Deletes the reservation row; true when it was there (false: settled, released or swept already).
Result<bool> delete_reservation(ports::SqlSession& session, const std::string& id);

/// Credits the split of a deleted reservation back to its pool, under the row lock: p += from_purchased,
/// and a = min(A, a + from_allowance) only when the pool is still in the window the tokens came from
/// (a reset or an allocation since refilled a). A missing pool is left alone.
Result<void> refund_split(ports::SqlSession& session, const StoredReservation& r, bool lock,
                          std::chrono::system_clock::time_point now);

/// Reservations whose expires_at is before `cutoff`, oldest first, at most `limit`.
Result<std::vector<StoredReservation>> load_expired_reservations(ports::SqlSession& session,
                                                                 std::chrono::system_clock::time_point cutoff,
                                                                 std::size_t limit);

/// Creates the pool with `balance` (P = p = 0) unless one exists; true when this call created it.
Result<bool> insert_pool_if_absent(ports::SqlSession& session, const PoolKey& key, const std::string& id,
                                   const PoolBalance& balance, std::chrono::system_clock::time_point now);

/// The view of a stored pool (pending = 0: in the shared mode reserved tokens are already debited).
PoolView view_of_stored(const StoredPool& pool);

}  // namespace lt::token
