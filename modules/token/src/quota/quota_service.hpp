#pragma once
/// QuotaService: user and org token pools (CONTRACT 18, 20) with reserve → settle | release, zero
/// over-admission and no double spend, and settles group-committed with their outbox rows.
///
/// How it stays exact: each pool lives in memory (loaded from SQL on first use, then cached for the
/// process lifetime) under its own mutex, with the committed balances plus `pending` (reserved, not
/// yet settled). reserve() admits n only if a + p − pending ≥ n, so admitted tokens never exceed the
/// pool. settle() moves n from pending to committed under the pool lock and, still under it, queues
/// ONE GroupCommitter unit (pool write + outbox rows); the caller resumes only after that unit
/// committed. Units commit in queue order, so the pool row always follows the in-memory order.
///
/// What is written: A, a and the reset time as ABSOLUTE values (the newest write holds the newest
/// state); purchased tokens as deltas (p −= spent), because purchases are credited by other
/// transactions (the purchase saga) and deltas commute with them.
///
/// Failure: when a pool write fails, the pool is marked stale and reloaded from SQL once no write of
/// it is in flight; until then the in-memory balance (never above the stored one) keeps serving.
///
/// Scope: ONE process (token.quota.reservation=process). The reservation step lives in this
/// process's memory, so several processes sharing one database would each admit against their own
/// copy: they need the shared mode (SharedQuotaLedger, token.quota.reservation=shared). Org
/// membership and tier checks are the caller's job; pools of unknown owners are cached as absent like
/// any other.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "lt/core/blocking_pool.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"
#include "quota/group_committer.hpp"
#include "quota/quota_ledger.hpp"
#include "quota/quota_types.hpp"

namespace lt::token {

namespace detail {
struct PoolEntry;
}

/// Thread-safe: any thread or coroutine may call every member; awaiting callers resume on their own
/// executor. SQL runs on the blocking pool (reads) and on the group-commit thread (writes).
class QuotaService final : public QuotaLedger {
public:
    /// `db`, `blocking` and `committer` must outlive the service and every Reservation it issued
    /// may outlive the service.
    QuotaService(ports::SqlDatabase& db, BlockingPool& blocking, GroupCommitter& committer, QuotaOptions options = {});
    ~QuotaService();
    QuotaService(const QuotaService&) = delete;
    QuotaService& operator=(const QuotaService&) = delete;

    /// The pool of `key` after the lazy window reset (CONTRACT 18; persisted in the background), or
    /// nullopt when it has none. `tier_cap` is the owner's `quotaMaxTokens` (user pools only; absent
    /// or ≤ 0 = none) applied if the window resets now.
    boost::asio::awaitable<Result<std::optional<PoolView>>> get(PoolKey key, std::optional<std::int64_t> tier_cap,
                                                                std::chrono::system_clock::time_point now) override;

    /// "process".
    std::string_view mode() const override { return "process"; }

    /// Like reserve() (admitted when a + p − pending covers it; nothing is written for the
    /// reservation itself), for as much as the pool can give between `min_tokens` (> 0) and `max_tokens`
    /// (≥ min_tokens): Errc::payment_required when not even `min_tokens` fit.
    boost::asio::awaitable<Result<Reservation>> reserve_up_to(PoolKey key, std::int64_t min_tokens,
                                                              std::int64_t max_tokens,
                                                              std::optional<std::int64_t> tier_cap,
                                                              std::chrono::system_clock::time_point now) override;
    /// settle() spending only `spend` of the reservation; the rest is simply no longer pending.
    boost::asio::awaitable<Result<void>> settle_partial(Reservation reservation, std::int64_t spend,
                                                        std::vector<OutboxRow> rows,
                                                        std::chrono::system_clock::time_point now) override;
    /// Refunds a reservation (pending −= tokens). Memory only: nothing reaches the database.
    void release(Reservation reservation) override;

    /// Spends a reservation: the allowance first, then purchased tokens, and group-commits the pool's
    /// new balance together with `rows` in one transaction; resumes after that commit. On error
    /// nothing of this settle is committed (the pool is reloaded later, see the file comment). An
    /// inactive reservation → Errc::invalid_argument. Build the awaitable in its own statement.
    boost::asio::awaitable<Result<void>> settle(Reservation reservation, std::vector<OutboxRow> rows,
                                                std::chrono::system_clock::time_point now) override;

    /// Group-commits outbox rows alone (events of rate-limited or failed calls); resumes after commit.
    boost::asio::awaitable<Result<void>> record(std::vector<OutboxRow> rows) override;

    /// Allocation (CONTRACT 20): creates the pool if needed and sets A (capped by `tier_cap` for user
    /// pools) and a = A for a window starting now; purchased tokens are untouched. Resumes after the
    /// commit with the new view. `allowance` < 0, or A + P beyond 64 bits → Errc::invalid_argument.
    boost::asio::awaitable<Result<PoolView>> set_allowance(PoolKey key, std::int64_t allowance,
                                                           std::optional<std::int64_t> tier_cap,
                                                           std::chrono::system_clock::time_point now,
                                                           bool only_if_absent = false) override;

    /// Credits purchased tokens (P += tokens, p += tokens), creating the pool (A = a = 0) if needed, in
    /// one group-committed unit that also runs `extra` (e.g. the saga step's own writes and outbox
    /// row) in the same transaction; the cached pool is updated after the commit. Overflow of P or
    /// A + P → Errc::invalid_argument and nothing is committed.
    boost::asio::awaitable<Result<void>> credit_purchase(PoolKey key, std::int64_t tokens,
                                                         std::chrono::system_clock::time_point now,
                                                         GroupCommitter::Work extra = {}) override;

    /// The same credit inside a transaction the caller runs itself (not through the committer). The
    /// caller MUST call invalidate(key) after that transaction committed: the cached pool is then
    /// reloaded from SQL once none of its writes is in flight (until then it under-reports p, which
    /// is safe). Runs on the caller's session thread.
    static Result<void> credit_purchase_in(ports::SqlSession& session, const PoolKey& key, std::int64_t tokens,
                                           std::chrono::system_clock::time_point now);

    /// Marks the cached pool of `key` for reload from SQL (see credit_purchase_in). Any thread.
    void invalidate(const PoolKey& key) override;

    /// The key as the service stores it (provider lower-case).
    static PoolKey normalized(PoolKey key);

private:
    struct Shard {
        mutable std::mutex mutex;  ///< guards pools
        std::unordered_map<std::string, std::shared_ptr<detail::PoolEntry>> pools;
    };

    std::shared_ptr<detail::PoolEntry> entry_for(const PoolKey& key);
    /// The entry of `key`, loaded from SQL if needed (or reloaded when stale and idle).
    boost::asio::awaitable<Result<std::shared_ptr<detail::PoolEntry>>> loaded_entry(PoolKey key);
    /// Applies the lazy reset under the entry lock and queues its write. Returns the write's waiter
    /// when the committer refused it (complete it after unlocking), else null.
    std::unique_ptr<CommitWaiter> reset_locked(detail::PoolEntry& entry, const std::shared_ptr<detail::PoolEntry>& owner,
                                               std::optional<std::int64_t> tier_cap,
                                               std::chrono::system_clock::time_point now);
    /// Queues a pool write under the entry lock (inflight++). Returns null, or the waiter when the
    /// committer stopped (complete it after unlocking; the caller must then not apply its change).
    std::unique_ptr<CommitWaiter> enqueue_locked(detail::PoolEntry& entry, const std::shared_ptr<detail::PoolEntry>& owner,
                                                 GroupCommitter::Work work, std::unique_ptr<CommitWaiter> waiter,
                                                 std::int64_t credit, std::chrono::system_clock::time_point now);
    void settle_now(Reservation& reservation, std::int64_t spend, std::vector<OutboxRow>& rows,
                    std::chrono::system_clock::time_point now,
                    std::unique_ptr<CommitWaiter> waiter);

    ports::SqlDatabase& db_;
    BlockingPool& blocking_;
    GroupCommitter& committer_;
    QuotaOptions options_;
    std::array<Shard, 16> shards_;
};

}  // namespace lt::token
