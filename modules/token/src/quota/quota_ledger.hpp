#pragma once
/// QuotaLedger: the reservation step of the quota (CONTRACT 18, 20, 30) behind one interface, with two
/// implementations selected by `token.quota.reservation`:
///   - QuotaService (`process`): pools cached in this process's memory; reserve is a memory check, the
///     debit is written at settle. Exact for ONE process only.
///   - SharedQuotaLedger (`shared`): every step is SQL in the shared database (group-committed); reserve
///     is a conditional debit under the pool's row lock, so any number of processes sharing the
///     database see one balance.
/// Both keep the same caller contract: reserve → settle | release, the caller answered only after its
/// commit, a Reservation destroyed while held is released.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "lt/core/result.hpp"
#include "quota/group_committer.hpp"
#include "quota/quota_types.hpp"

namespace lt::token {

/// What an implementation keeps for one held reservation. release() gives the tokens back; it is
/// called at most once, from any thread, and must not block (a shared ledger queues a credit).
class ReservationHold {
public:
    virtual ~ReservationHold() = default;
    /// Gives the reserved tokens back. Called at most once.
    virtual void release() noexcept = 0;
};

/// Tokens reserved in one pool by one request. Move-only; settle() or release() consumes it, and a
/// reservation destroyed while still held is released (a cancelled request refunds its tokens).
/// Its owner uses it from one thread at a time.
class Reservation {
public:
    Reservation() = default;
    /// A held reservation of `tokens` (implementations only).
    Reservation(std::unique_ptr<ReservationHold> hold, std::int64_t tokens, std::optional<std::int64_t> tier_cap)
        : hold_(std::move(hold)), tokens_(tokens), tier_cap_(tier_cap) {}
    Reservation(Reservation&& other) noexcept = default;
    Reservation& operator=(Reservation&& other) noexcept {
        if (this != &other) {
            release_now();
            hold_ = std::move(other.hold_);
            tokens_ = other.tokens_;
            tier_cap_ = other.tier_cap_;
        }
        return *this;
    }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    /// Releases the tokens when still held.
    ~Reservation() { release_now(); }

    /// True until settled or released.
    bool active() const { return hold_ != nullptr; }
    /// Tokens reserved.
    std::int64_t tokens() const { return tokens_; }
    /// The owner's tier cap at reserve time.
    std::optional<std::int64_t> tier_cap() const { return tier_cap_; }
    /// The implementation's hold (null when not held). Implementations only.
    ReservationHold* hold() const { return hold_.get(); }
    /// Takes the hold out without releasing it (settle). Implementations only.
    std::unique_ptr<ReservationHold> take_hold() { return std::move(hold_); }
    /// Gives the tokens back now; no-op when not held.
    void release_now() noexcept {
        if (auto h = std::move(hold_)) h->release();
    }

private:
    std::unique_ptr<ReservationHold> hold_;
    std::int64_t tokens_ = 0;
    std::optional<std::int64_t> tier_cap_;  ///< applied if the window resets before settle (process mode)
};

/// Thread-safe: any thread or coroutine may call every member; awaiting callers resume on their own
/// executor. Implementations run SQL on the blocking pool (reads) and on the group-commit thread.
class QuotaLedger {
public:
    virtual ~QuotaLedger() = default;

    /// "process" or "shared".
    virtual std::string_view mode() const = 0;

    /// The pool of `key` after the lazy window reset (CONTRACT 18), or nullopt when it has none.
    /// `tier_cap` is the owner's `quotaMaxTokens` (user pools only; absent or ≤ 0 = none).
    virtual boost::asio::awaitable<Result<std::optional<PoolView>>> get(PoolKey key, std::optional<std::int64_t> tier_cap,
                                                                        std::chrono::system_clock::time_point now) = 0;

    /// Reserves `tokens` (> 0, else Errc::invalid_argument) after the lazy reset. Errc::payment_required
    /// `insufficient token quota` when the pool does not exist or cannot cover them. (reserve_up_to
    /// with both bounds equal.)
    boost::asio::awaitable<Result<Reservation>> reserve(PoolKey key, std::int64_t tokens,
                                                        std::optional<std::int64_t> tier_cap,
                                                        std::chrono::system_clock::time_point now) {
        auto op = reserve_up_to(std::move(key), tokens, tokens, tier_cap, now);
        co_return co_await std::move(op);
    }

    /// Like reserve(), for as much as the pool can cover between `min_tokens` (> 0) and `max_tokens`
    /// (≥ min_tokens): Errc::payment_required when not even `min_tokens` fit. The Reservation's
    /// tokens() says how many were reserved.
    virtual boost::asio::awaitable<Result<Reservation>> reserve_up_to(PoolKey key, std::int64_t min_tokens,
                                                                      std::int64_t max_tokens,
                                                                      std::optional<std::int64_t> tier_cap,
                                                                      std::chrono::system_clock::time_point now) = 0;

    /// Like settle(), spending only `spend` (clamped to [0, tokens()]) of the reservation; the rest
    /// goes back to the pool in the same commit (metered calls whose exact cost is known at the end).
    virtual boost::asio::awaitable<Result<void>> settle_partial(Reservation reservation, std::int64_t spend,
                                                                std::vector<OutboxRow> rows,
                                                                std::chrono::system_clock::time_point now) = 0;

    /// Refunds a reservation (never blocks; a shared ledger queues the credit).
    virtual void release(Reservation reservation) = 0;

    /// Spends a reservation and group-commits `rows` (its outbox events) with it; resumes after that
    /// commit. On error nothing of this settle is committed and the tokens are not spent. An inactive
    /// reservation → Errc::invalid_argument. Build the awaitable in its own statement.
    virtual boost::asio::awaitable<Result<void>> settle(Reservation reservation, std::vector<OutboxRow> rows,
                                                        std::chrono::system_clock::time_point now) = 0;

    /// Group-commits outbox rows alone; resumes after commit.
    virtual boost::asio::awaitable<Result<void>> record(std::vector<OutboxRow> rows) = 0;

    /// True when the consume path should ask the rate-limit bucket BEFORE reserving (the shared ledger:
    /// a reservation is SQL, a bucket answer is not). The caller then refunds the bucket when the
    /// reservation is refused (402 keeps its precedence: no bucket evaluation seen) and answers a
    /// bucket refusal with record_if_covered(). Any thread.
    virtual bool bucket_first() const { return false; }

    /// For a request the bucket refused: when the pool of `key` could cover `tokens` now (after the
    /// lazy reset, as reserve() would judge it), group-commits `rows` (the rate_limited usage event)
    /// and resumes after that commit; otherwise records nothing and fails with Errc::payment_required
    /// (402 wins over 429: CONTRACT 2, seed T4). Nothing is reserved. The default reserves and
    /// releases (the process ledger's reserve is a memory check). Build the awaitable in its own
    /// statement.
    virtual boost::asio::awaitable<Result<void>> record_if_covered(PoolKey key, std::int64_t tokens,
                                                                   std::optional<std::int64_t> tier_cap,
                                                                   std::chrono::system_clock::time_point now,
                                                                   std::vector<OutboxRow> rows) {
        auto reserve_op = reserve(std::move(key), tokens, tier_cap, now);
        auto held = co_await std::move(reserve_op);
        if (!held) co_return fail(held.error());
        release(std::move(*held));
        auto record_op = record(std::move(rows));
        co_return co_await std::move(record_op);
    }

    /// Allocation (CONTRACT 20): creates the pool if needed and sets A (capped for user pools) and a = A
    /// for a window starting now. With `only_if_absent`, Errc::conflict when the pool exists.
    virtual boost::asio::awaitable<Result<PoolView>> set_allowance(PoolKey key, std::int64_t allowance,
                                                                   std::optional<std::int64_t> tier_cap,
                                                                   std::chrono::system_clock::time_point now,
                                                                   bool only_if_absent = false) = 0;

    /// Credits purchased tokens (P += n, p += n), creating the pool if needed, in one group-committed
    /// unit that also runs `extra` in the same transaction.
    virtual boost::asio::awaitable<Result<void>> credit_purchase(PoolKey key, std::int64_t tokens,
                                                                 std::chrono::system_clock::time_point now,
                                                                 GroupCommitter::Work extra = {}) = 0;

    /// Forgets anything cached about `key` (after a credit committed outside the ledger). Any thread.
    virtual void invalidate(const PoolKey& key) = 0;
};

}  // namespace lt::token
