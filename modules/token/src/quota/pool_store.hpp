#pragma once
/// SQL of the quota layer (tables token_pools and token_outbox). Statements are bound on the caller's
/// thread (BoundStatement) so that the group-commit thread, the one serial stage, only executes them.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"
#include "quota/pool_math.hpp"
#include "quota/quota_types.hpp"

namespace lt::token {

/// A pool row as stored.
struct StoredPool {
    std::string id;
    PoolBalance balance;
    std::chrono::system_clock::time_point created_at;
    std::chrono::system_clock::time_point updated_at;
};

/// A statement with its parameters, ready to run in any session.
struct BoundStatement {
    std::string_view sql;                 ///< a string literal
    std::vector<ports::SqlValue> params;
    bool expect_one_row = false;          ///< fail (Errc::internal) unless exactly one row changed
};

/// Runs `statements` in order inside `session`; stops at the first error.
Result<void> run_statements(ports::SqlSession& session, std::span<const BoundStatement> statements);

/// Reads the pool of `key` (nullopt when there is none).
Result<std::optional<StoredPool>> load_pool(ports::SqlSession& session, const PoolKey& key);

/// Writes the window part of a balance in ABSOLUTE values (A, a, reset time) and subtracts
/// `purchased_debit` from p (a delta: purchases are credited by other transactions, see
/// credit_purchase_sql). The row must exist.
BoundStatement bind_balance_write(const PoolKey& key, const PoolBalance& balance, std::int64_t purchased_debit,
                                  std::chrono::system_clock::time_point now);

/// Creates the pool (with `id`, P = p = 0) or, when it exists, sets its A, a and reset time only.
BoundStatement bind_allowance_upsert(const PoolKey& key, const std::string& id, const PoolBalance& balance,
                                     std::chrono::system_clock::time_point now);

/// Inserts one outbox row.
BoundStatement bind_outbox_insert(const OutboxRow& row);

/// Credits `n` purchased tokens (P += n, p += n) inside `session`, creating the pool (A = a = 0) if
/// needed. Errc::invalid_argument when n ≤ 0 or when P or A + P would overflow 64 bits.
Result<void> credit_purchase_sql(ports::SqlSession& session, const PoolKey& key, std::int64_t n,
                                 std::chrono::system_clock::time_point now);

}  // namespace lt::token
