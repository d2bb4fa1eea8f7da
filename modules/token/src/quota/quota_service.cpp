#include "quota/quota_service.hpp"

#include <algorithm>

#include <functional>
#include <limits>
#include <span>
#include <utility>

#include "lt/core/time.hpp"
#include "quota/pool_math.hpp"
#include "quota/pool_store.hpp"

namespace lt::token {

using Clock = std::chrono::system_clock;

namespace detail {

/// One cached pool. Every field is guarded by `mutex`.
struct PoolEntry {
    explicit PoolEntry(PoolKey k) : key(std::move(k)) {}

    std::mutex mutex;
    const PoolKey key;
    bool loaded = false;        ///< the fields below mirror SQL (plus queued writes)
    bool exists = false;        ///< a row exists (or is queued to be written)
    bool stale = false;         ///< a write failed: reload from SQL once inflight == 0
    std::uint64_t version = 0;  ///< bumped by every change to the committed state and by invalidate
    std::int64_t inflight = 0;  ///< queued writes of this pool not yet completed
    std::int64_t pending = 0;   ///< reserved, not yet settled or released
    std::string id;
    PoolBalance balance;
    Clock::time_point created_at;
    Clock::time_point updated_at;
};

}  // namespace detail

using detail::PoolEntry;

namespace {

constexpr auto kMax = std::numeric_limits<std::int64_t>::max();

Error insufficient() { return Error{Errc::payment_required, "insufficient token quota"}; }
Error overflow() { return Error{Errc::invalid_argument, "token balance would overflow"}; }
Error stopped() { return Error{Errc::unavailable, "group committer stopped"}; }

/// Completes waiters with an error once the pool lock is released (declare it before the lock).
class AfterUnlock {
public:
    AfterUnlock() = default;
    AfterUnlock(const AfterUnlock&) = delete;
    AfterUnlock& operator=(const AfterUnlock&) = delete;
    ~AfterUnlock() {
        for (auto& [waiter, error] : items_) waiter->complete(fail(std::move(error)));
    }
    void fail_with(std::unique_ptr<CommitWaiter> waiter, Error error) {
        if (waiter) items_.emplace_back(std::move(waiter), std::move(error));
    }

private:
    std::vector<std::pair<std::unique_ptr<CommitWaiter>, Error>> items_;
};

/// Bookkeeping of one queued pool write, on the group-commit thread: inflight−−, stale on failure,
/// a purchase credit applied after its commit; then the caller's waiter.
class PoolWriteWaiter final : public CommitWaiter {
public:
    PoolWriteWaiter(std::shared_ptr<PoolEntry> entry, std::unique_ptr<CommitWaiter> inner, std::int64_t credit,
                    Clock::time_point now)
        : entry_(std::move(entry)), inner_(std::move(inner)), credit_(credit), now_(now) {}

    void complete(Result<void> result) noexcept override {
        {
            std::lock_guard lock(entry_->mutex);
            --entry_->inflight;
            if (!result) {
                entry_->stale = true;
            } else if (credit_ > 0) {
                ++entry_->version;
                if (entry_->exists) {
                    entry_->balance.purchased_total += credit_;
                    entry_->balance.purchased_remaining += credit_;
                    entry_->updated_at = now_;
                } else {
                    entry_->stale = true;  // the credit created the row: load it
                }
            }
        }
        if (inner_) inner_->complete(std::move(result));
    }

private:
    std::shared_ptr<PoolEntry> entry_;
    std::unique_ptr<CommitWaiter> inner_;
    std::int64_t credit_;
    Clock::time_point now_;
};

PoolView view_of(const PoolEntry& e) {
    PoolView v;
    v.allowance = e.balance.allowance;
    v.allowance_remaining = e.balance.allowance_remaining;
    v.purchased_total = e.balance.purchased_total;
    v.purchased_remaining = e.balance.purchased_remaining;
    v.pending = e.pending;
    v.reset_time = e.balance.reset_time;
    v.created_at = e.created_at;
    v.updated_at = e.updated_at;
    return v;
}

GroupCommitter::Work statements_work(std::vector<BoundStatement> statements) {
    return [st = std::move(statements)](ports::SqlSession& s) { return run_statements(s, st); };
}

std::string map_key(const PoolKey& key) {
    std::string k;
    k.reserve(key.owner_id.size() + key.provider.size() + 2);
    k.push_back(key.type == OwnerType::org ? 'o' : 'u');
    k.append(key.owner_id);
    k.push_back('\x1f');
    k.append(key.provider);
    return k;
}

}  // namespace

// ---- The process mode's hold: tokens counted in the cached pool's `pending` ----

namespace {

class ProcessHold final : public ReservationHold {
public:
    ProcessHold(std::shared_ptr<PoolEntry> entry, std::int64_t tokens) : entry_(std::move(entry)), tokens_(tokens) {}
    void release() noexcept override {
        std::lock_guard lock(entry_->mutex);
        entry_->pending -= tokens_;
    }
    /// The pool, for settle (which then owns the pending tokens).
    const std::shared_ptr<PoolEntry>& entry() const { return entry_; }

private:
    std::shared_ptr<PoolEntry> entry_;
    std::int64_t tokens_;
};

}  // namespace

// ---- QuotaService ----

QuotaService::QuotaService(ports::SqlDatabase& db, BlockingPool& blocking, GroupCommitter& committer,
                           QuotaOptions options)
    : db_(db), blocking_(blocking), committer_(committer), options_(options) {}

QuotaService::~QuotaService() = default;

PoolKey QuotaService::normalized(PoolKey key) {
    key.provider = to_lower(key.provider);
    return key;
}

std::shared_ptr<PoolEntry> QuotaService::entry_for(const PoolKey& key) {
    auto k = map_key(key);
    auto& shard = shards_[std::hash<std::string>{}(k) % shards_.size()];
    std::lock_guard lock(shard.mutex);
    auto& slot = shard.pools[std::move(k)];
    if (!slot) slot = std::make_shared<PoolEntry>(key);
    return slot;
}

void QuotaService::invalidate(const PoolKey& raw) {
    auto key = normalized(raw);
    auto k = map_key(key);
    std::shared_ptr<PoolEntry> entry;
    {
        auto& shard = shards_[std::hash<std::string>{}(k) % shards_.size()];
        std::lock_guard lock(shard.mutex);
        auto it = shard.pools.find(k);
        if (it == shard.pools.end()) return;
        entry = it->second;
    }
    std::lock_guard lock(entry->mutex);
    entry->stale = true;
    ++entry->version;
}

boost::asio::awaitable<Result<std::shared_ptr<PoolEntry>>> QuotaService::loaded_entry(PoolKey key) {
    auto entry = entry_for(key);
    auto needs_read = [](const PoolEntry& e) { return !e.loaded || (e.stale && e.inflight == 0); };
    for (int attempt = 0; attempt < 8; ++attempt) {
        std::uint64_t seen = 0;
        {
            std::lock_guard lock(entry->mutex);
            if (!needs_read(*entry)) break;
            seen = entry->version;
        }
        std::optional<StoredPool> stored;
        auto op = blocking_.run([this, &key, &stored] {
            return db_.transact_sync([&key, &stored](ports::SqlSession& s) -> Result<void> {
                auto r = load_pool(s, key);
                if (!r) return fail(r.error());
                stored = std::move(*r);
                return ok();
            });
        });
        auto read = co_await std::move(op);
        std::lock_guard lock(entry->mutex);
        if (!read) {
            if (entry->loaded) break;  // a stale pool keeps serving from memory
            co_return fail(read.error());
        }
        // Install only if nothing changed the pool while we read (else read again).
        if (entry->version == seen && needs_read(*entry)) {
            entry->exists = stored.has_value();
            entry->balance = stored ? stored->balance : PoolBalance{};
            if (stored) {
                entry->id = std::move(stored->id);
                entry->created_at = stored->created_at;
                entry->updated_at = stored->updated_at;
            }
            entry->loaded = true;
            entry->stale = false;
            ++entry->version;
            break;
        }
        if (!needs_read(*entry)) break;
    }
    {
        std::lock_guard lock(entry->mutex);
        if (!entry->loaded) co_return fail(Errc::unavailable, "quota pool is busy, try again");
    }
    co_return entry;
}

std::unique_ptr<CommitWaiter> QuotaService::enqueue_locked(PoolEntry& entry, const std::shared_ptr<PoolEntry>& owner,
                                                           GroupCommitter::Work work, std::unique_ptr<CommitWaiter> waiter,
                                                           std::int64_t credit, Clock::time_point now) {
    ++entry.inflight;
    std::unique_ptr<CommitWaiter> pool_waiter =
        std::make_unique<PoolWriteWaiter>(owner, std::move(waiter), credit, now);
    if (committer_.try_enqueue(work, pool_waiter)) return nullptr;
    return pool_waiter;
}

std::unique_ptr<CommitWaiter> QuotaService::reset_locked(PoolEntry& entry, const std::shared_ptr<PoolEntry>& owner,
                                                         std::optional<std::int64_t> tier_cap, Clock::time_point now) {
    PoolBalance next = entry.balance;
    if (!apply_window_reset(next, entry.key.type, tier_cap, now, options_.window)) return nullptr;
    std::vector<BoundStatement> st;
    st.push_back(bind_balance_write(entry.key, next, 0, now));
    auto left = enqueue_locked(entry, owner, statements_work(std::move(st)), nullptr, 0, now);
    if (!left) {
        entry.balance = next;
        entry.updated_at = now;
        ++entry.version;
    }
    return left;
}

boost::asio::awaitable<Result<std::optional<PoolView>>> QuotaService::get(PoolKey key,
                                                                           std::optional<std::int64_t> tier_cap,
                                                                           Clock::time_point now) {
    auto op = loaded_entry(normalized(std::move(key)));
    auto loaded = co_await std::move(op);
    if (!loaded) co_return fail(loaded.error());
    auto entry = std::move(*loaded);
    AfterUnlock after;
    std::lock_guard lock(entry->mutex);
    if (!entry->exists) co_return std::optional<PoolView>();
    after.fail_with(reset_locked(*entry, entry, tier_cap, now), stopped());
    co_return std::optional<PoolView>(view_of(*entry));
}

boost::asio::awaitable<Result<Reservation>> QuotaService::reserve_up_to(PoolKey key, std::int64_t min_tokens,
                                                                         std::int64_t max_tokens,
                                                                         std::optional<std::int64_t> tier_cap,
                                                                         Clock::time_point now) {
    if (min_tokens <= 0 || max_tokens < min_tokens) co_return fail(Errc::invalid_argument, "tokens must be positive");
    std::int64_t tokens = max_tokens;
    key = normalized(std::move(key));
    auto op = loaded_entry(key);
    auto loaded = co_await std::move(op);
    if (!loaded) co_return fail(loaded.error());
    Reservation r;
    {
        auto entry = std::move(*loaded);
        AfterUnlock after;
        std::lock_guard lock(entry->mutex);
        if (!entry->exists) co_return fail(insufficient());
        after.fail_with(reset_locked(*entry, entry, tier_cap, now), stopped());
        const auto& b = entry->balance;
        // a + p ≤ A + P fits in 64 bits and pending ≥ 0: no overflow (saturating for safety).
        const std::int64_t available = saturating_add(b.allowance_remaining, b.purchased_remaining) - entry->pending;
        if (available < min_tokens) co_return fail(insufficient());
        tokens = std::min(max_tokens, available);
        entry->pending += tokens;
        r = Reservation(std::make_unique<ProcessHold>(std::move(entry), tokens), tokens, tier_cap);
    }
    co_return r;
}

void QuotaService::release(Reservation reservation) { reservation.release_now(); }

boost::asio::awaitable<Result<void>> QuotaService::settle(Reservation reservation, std::vector<OutboxRow> rows,
                                                          Clock::time_point now) {
    const std::int64_t spend = reservation.tokens();
    return await_commit([this, reservation = std::move(reservation), rows = std::move(rows), spend,
                         now](std::unique_ptr<CommitWaiter> waiter) mutable {
        settle_now(reservation, spend, rows, now, std::move(waiter));
    });
}

boost::asio::awaitable<Result<void>> QuotaService::settle_partial(Reservation reservation, std::int64_t spend,
                                                                  std::vector<OutboxRow> rows, Clock::time_point now) {
    spend = std::clamp<std::int64_t>(spend, 0, reservation.tokens());
    return await_commit([this, reservation = std::move(reservation), rows = std::move(rows), spend,
                         now](std::unique_ptr<CommitWaiter> waiter) mutable {
        settle_now(reservation, spend, rows, now, std::move(waiter));
    });
}

void QuotaService::settle_now(Reservation& reservation, std::int64_t spend, std::vector<OutboxRow>& rows,
                              Clock::time_point now, std::unique_ptr<CommitWaiter> waiter) {
    auto* hold = dynamic_cast<ProcessHold*>(reservation.hold());
    if (!hold) {
        waiter->complete(fail(Errc::invalid_argument, "reservation already settled or released"));
        return;
    }
    // Outbox rows are bound before taking the pool lock; the pool write is bound under it.
    std::vector<BoundStatement> statements;
    statements.reserve(rows.size() + 1);
    statements.emplace_back();
    for (const auto& row : rows) statements.push_back(bind_outbox_insert(row));

    std::shared_ptr<PoolEntry> entry = hold->entry();
    (void)reservation.take_hold();  // consumed here: its destructor must not refund
    AfterUnlock after;
    std::lock_guard lock(entry->mutex);
    entry->pending -= reservation.tokens();
    PoolBalance next = entry->balance;
    apply_window_reset(next, entry->key.type, reservation.tier_cap(), now, options_.window);
    const Debit d = debit(next, spend);
    statements.front() = bind_balance_write(entry->key, next, d.from_purchased, now);
    auto left = enqueue_locked(*entry, entry, statements_work(std::move(statements)), std::move(waiter), 0, now);
    if (!left) {
        entry->balance = next;
        entry->updated_at = now;
        ++entry->version;
    }
    after.fail_with(std::move(left), stopped());
}

boost::asio::awaitable<Result<void>> QuotaService::record(std::vector<OutboxRow> rows) {
    if (rows.empty()) co_return ok();
    std::vector<BoundStatement> statements;
    statements.reserve(rows.size());
    for (const auto& row : rows) statements.push_back(bind_outbox_insert(row));
    auto op = committer_.submit(statements_work(std::move(statements)));
    co_return co_await std::move(op);
}

boost::asio::awaitable<Result<PoolView>> QuotaService::set_allowance(PoolKey key, std::int64_t allowance,
                                                                     std::optional<std::int64_t> tier_cap,
                                                                     Clock::time_point now, bool only_if_absent) {
    if (allowance < 0) co_return fail(Errc::invalid_argument, "allowance must not be negative");
    auto op = loaded_entry(normalized(std::move(key)));
    auto loaded = co_await std::move(op);
    if (!loaded) co_return fail(loaded.error());
    auto entry = std::move(*loaded);
    if (only_if_absent) {
        // Fast path for the consume path's default pool: it exists almost always. (Checked again
        // under the lock below, where the race between two first requests is decided.)
        std::lock_guard lock(entry->mutex);
        if (entry->exists) co_return fail(Errc::conflict, "pool exists");
    }

    PoolView view;
    auto start = [this, &entry, &view, allowance, tier_cap, now, only_if_absent](std::unique_ptr<CommitWaiter> waiter) {
        AfterUnlock after;
        std::lock_guard lock(entry->mutex);
        if (only_if_absent && entry->exists) {
            // Checked under the pool lock: two first requests cannot both create (and refill) it.
            after.fail_with(std::move(waiter), Error{Errc::conflict, "pool exists"});
            return;
        }
        PoolBalance next = entry->exists ? entry->balance : PoolBalance{};
        const std::int64_t a = capped_allowance(allowance, entry->key.type, tier_cap);
        if (a > kMax - next.purchased_total) {
            after.fail_with(std::move(waiter), overflow());
            return;
        }
        next.allowance = a;
        next.allowance_remaining = a;
        next.reset_time.reset();
        if (options_.window > std::chrono::milliseconds::zero()) {
            next.reset_time = now + std::chrono::duration_cast<Clock::duration>(options_.window);
        }
        std::string id = entry->exists ? entry->id : new_uuid();
        std::vector<BoundStatement> st;
        st.push_back(bind_allowance_upsert(entry->key, id, next, now));
        auto left = enqueue_locked(*entry, entry, statements_work(std::move(st)), std::move(waiter), 0, now);
        if (!left) {
            if (!entry->exists) {
                entry->exists = true;
                entry->id = std::move(id);
                entry->created_at = now;
            }
            entry->balance = next;
            entry->updated_at = now;
            ++entry->version;
        }
        view = view_of(*entry);
        after.fail_with(std::move(left), stopped());
    };
    auto commit = await_commit(std::move(start));
    auto committed = co_await std::move(commit);
    if (!committed) co_return fail(committed.error());
    co_return view;
}

boost::asio::awaitable<Result<void>> QuotaService::credit_purchase(PoolKey key, std::int64_t tokens,
                                                                   Clock::time_point now, GroupCommitter::Work extra) {
    if (tokens <= 0) co_return fail(Errc::invalid_argument, "tokens must be positive");
    auto op = loaded_entry(normalized(std::move(key)));
    auto loaded = co_await std::move(op);
    if (!loaded) co_return fail(loaded.error());
    auto entry = std::move(*loaded);

    auto start = [this, &entry, &extra, tokens, now](std::unique_ptr<CommitWaiter> waiter) {
        AfterUnlock after;
        std::lock_guard lock(entry->mutex);
        const auto& b = entry->balance;
        if (entry->exists && (b.purchased_total > kMax - tokens || b.allowance > kMax - tokens - b.purchased_total)) {
            after.fail_with(std::move(waiter), overflow());
            return;
        }
        // Deltas commute with settles, so this unit needs no ordering beyond inflight (which keeps a
        // reload from reading SQL before the credit is applied in memory).
        GroupCommitter::Work work = [key = entry->key, tokens, now,
                                     extra = std::move(extra)](ports::SqlSession& s) -> Result<void> {
            if (auto r = credit_purchase_sql(s, key, tokens, now); !r) return r;
            if (extra) return extra(s);
            return ok();
        };
        after.fail_with(enqueue_locked(*entry, entry, std::move(work), std::move(waiter), tokens, now), stopped());
    };
    auto commit = await_commit(std::move(start));
    co_return co_await std::move(commit);
}

Result<void> QuotaService::credit_purchase_in(ports::SqlSession& session, const PoolKey& key, std::int64_t tokens,
                                              Clock::time_point now) {
    return credit_purchase_sql(session, normalized(key), tokens, now);
}

}  // namespace lt::token
