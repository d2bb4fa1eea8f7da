#pragma once
/// SharedQuotaLedger: the quota's reservation step in the shared SQL store (token.quota.reservation=
/// shared), so any number of processes sharing one database admit against ONE balance (CONTRACT 30).
///
///   reserve  = one group-committed unit: read the pool under its row lock (FOR UPDATE on PostgreSQL;
///              SQLite's BEGIN IMMEDIATE holds the database lock), apply the lazy window reset with the
///              tier cap (pool_math), and if a + p ≥ n debit n (a first, then p) and insert a
///              token_reservations row with the split, all in the batch's transaction. The unit's own
///              outcome (debited / insufficient) is reported to its caller without failing the batch.
///              The caller resumes only after the commit: an admitted reservation is durable.
///   settle   = one unit: delete the reservation row and insert the outbox rows (the debit is durable
///              already). If the row is gone (swept as expired) the settle fails and spends nothing.
///   release  = one unit (queued, not awaited): delete the reservation row and, only if it was there,
///              credit the split back (p += from_p; a += from_a only within the window it came from).
///   On PostgreSQL the common cases are one statement each: reserve is one data-modifying CTE (lock the
///   row, conditional debit, insert the reservation row) when the window is not due, settle of a full
///   spend with one outbox row is one CTE (delete the reservation row, insert the outbox row only if it
///   was there); anything else takes the general path above in the same unit. Units carry their pool
///   key as order key (GroupCommitter), so batches lock pool rows in one order in every process.
///   sweep    = reservations older than their expiry (their process died between reserve and settle)
///              are refunded by whichever process sweeps first (the delete decides, exactly once).
///
/// A crash between reserve and settle therefore costs under-use for at most the reservation timeout
/// (tokens debited, refunded by the sweep), never over-admission. Views read SQL (no cache); `pending`
/// is 0 because reserved tokens are already subtracted from a and p.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "lt/core/blocking_pool.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"
#include "quota/group_committer.hpp"
#include "quota/quota_ledger.hpp"
#include "quota/quota_types.hpp"

namespace lt::token {

/// Options of the shared ledger.
struct SharedLedgerOptions {
    QuotaOptions quota;  ///< the window
    /// A reservation not settled or released within this time is refunded by the sweep
    /// (`token.quota.reservation-timeout`); it must exceed the longest consume request.
    std::chrono::milliseconds reservation_timeout{std::chrono::seconds(60)};
    /// PostgreSQL only: group-commit lanes (the given committer plus lanes − 1 of the ledger's own, on
    /// the same database). A pool's units always go to the lane of its key, so one pool's units keep
    /// their order and two lanes never wait for one row; the lanes' transactions run at once on
    /// separate connections (keep storage.sql.pool-size above it). SQLite (one writer) uses 1.
    std::size_t lanes = 2;
    /// PostgreSQL only: lanes of their own (connections of their own) for the durable units that lock
    /// no pool row — a full-spend settle with one event (delete its reservation row, insert the event)
    /// and record_if_covered (a read and an insert) — so the WAL flush they wait for never holds up
    /// the reservations and refunds queued behind them on the pool lanes (those commit without a
    /// flush wait). A pool's units still go to one such lane (by key). 0: everything on the pool
    /// lanes. Keep storage.sql.pool-size above lanes + durable_lanes.
    std::size_t durable_lanes = 1;
};

/// Thread-safe: any thread or coroutine may call every member; awaiting callers resume on their own
/// executor. Every unit of one pool that locks its row, views included, runs on that pool's
/// group-commit lane, in the order this process queued them (a view sees a refund release() queued
/// before it); on PostgreSQL the durable units that lock no pool row (one-statement settles,
/// record_if_covered) run on the pool's durable lane; the sweep's read runs on the database's pool.
class SharedQuotaLedger final : public QuotaLedger {
public:
    /// `db`, `blocking` and `committer` must outlive the ledger and every Reservation it issued.
    SharedQuotaLedger(ports::SqlDatabase& db, BlockingPool& blocking, GroupCommitter& committer,
                      SharedLedgerOptions options = {});
    /// Stops the ledger's own lanes (their queued units are committed first).
    ~SharedQuotaLedger() override;
    SharedQuotaLedger(const SharedQuotaLedger&) = delete;
    SharedQuotaLedger& operator=(const SharedQuotaLedger&) = delete;

    /// "shared".
    std::string_view mode() const override { return "shared"; }

    boost::asio::awaitable<Result<std::optional<PoolView>>> get(PoolKey key, std::optional<std::int64_t> tier_cap,
                                                                std::chrono::system_clock::time_point now) override;
    void release(Reservation reservation) override;
    boost::asio::awaitable<Result<Reservation>> reserve_up_to(PoolKey key, std::int64_t min_tokens,
                                                              std::int64_t max_tokens,
                                                              std::optional<std::int64_t> tier_cap,
                                                              std::chrono::system_clock::time_point now) override;
    /// settle() that credits the unspent part of the split back (purchased tokens first, as a debit
    /// takes them last) in the same transaction.
    boost::asio::awaitable<Result<void>> settle_partial(Reservation reservation, std::int64_t spend,
                                                        std::vector<OutboxRow> rows,
                                                        std::chrono::system_clock::time_point now) override;
    boost::asio::awaitable<Result<void>> settle(Reservation reservation, std::vector<OutboxRow> rows,
                                                std::chrono::system_clock::time_point now) override;
    boost::asio::awaitable<Result<void>> record(std::vector<OutboxRow> rows) override;
    /// True: a reservation is SQL, so the consume path asks the bucket first (a 429 then costs one
    /// read-and-record unit instead of a reservation, its refund and the record).
    bool bucket_first() const override { return true; }
    /// One durable unit on the pool's lane: on PostgreSQL one statement (insert the rows only if the
    /// pool, its window not due, covers `tokens`); else the pool is read (no lock, no write: the lazy
    /// reset is judged on a copy) and the rows inserted only if it covers them.
    boost::asio::awaitable<Result<void>> record_if_covered(PoolKey key, std::int64_t tokens,
                                                           std::optional<std::int64_t> tier_cap,
                                                           std::chrono::system_clock::time_point now,
                                                           std::vector<OutboxRow> rows) override;
    boost::asio::awaitable<Result<PoolView>> set_allowance(PoolKey key, std::int64_t allowance,
                                                           std::optional<std::int64_t> tier_cap,
                                                           std::chrono::system_clock::time_point now,
                                                           bool only_if_absent = false) override;
    boost::asio::awaitable<Result<void>> credit_purchase(PoolKey key, std::int64_t tokens,
                                                         std::chrono::system_clock::time_point now,
                                                         GroupCommitter::Work extra = {}) override;
    /// Nothing is cached but pool existence (pools are never deleted): no-op.
    void invalidate(const PoolKey& key) override;

    /// Refunds up to `limit` reservations that expired before `now` (one group-committed unit) and
    /// returns how many this call refunded (others may have been refunded by another process).
    /// Any coroutine.
    boost::asio::awaitable<Result<std::size_t>> sweep_expired(std::chrono::system_clock::time_point now,
                                                              std::size_t limit = 500);

    /// Blocks until every unit queued so far on every lane (and the given committer) committed. Never on
    /// an I/O thread nor a lane's thread. Tests, CLI.
    Result<void> flush_sync();

    /// Releases whose refund unit failed to commit (left to the sweep). Any thread.
    std::uint64_t failed_refunds() const;

    struct Core;  ///< shared with the reservations it issued

private:
    bool known(const PoolKey& key) const;
    void remember(const PoolKey& key);

    ports::SqlDatabase& db_;
    BlockingPool& blocking_;
    std::shared_ptr<Core> core_;
    mutable std::mutex known_mutex_;          ///< guards known_
    std::unordered_set<std::string> known_;  ///< pools seen to exist (they are never deleted)
};

}  // namespace lt::token
