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
