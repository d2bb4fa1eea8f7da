#include "quota/shared_quota_ledger.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lt/core/time.hpp"
#include "quota/pool_math.hpp"
#include "quota/pool_store.hpp"
#include "quota/reservation_store.hpp"

namespace lt::token {

using Clock = std::chrono::system_clock;

namespace {

constexpr auto kMax = std::numeric_limits<std::int64_t>::max();

Error insufficient() { return Error{Errc::payment_required, "insufficient token quota"}; }

std::string map_key(const PoolKey& key) {
    std::string k;
    k.reserve(key.owner_id.size() + key.provider.size() + 2);
    k.push_back(key.type == OwnerType::org ? 'o' : 'u');
    k.append(key.owner_id);
    k.push_back('\x1f');
    k.append(key.provider);
    return k;
}

PoolKey normalized(PoolKey key) {
    key.provider = to_lower(key.provider);
    return key;
}

Result<void> write_outbox(ports::SqlSession& s, const std::vector<BoundStatement>& rows) {
    return run_statements(s, std::span<const BoundStatement>(rows));
}

constexpr std::string_view kOutboxInsertPrefix =
    "INSERT INTO token_outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)";

// bind_outbox_insert()'s row, inserted only when the pool exists, its window is not due (or windows
// are off) and a + p ≥ $10 (tested as a ≥ $10 − p: no overflow). reset_time is fixed-width RFC 3339
// text, so the text comparison is the time comparison (as in the one-statement reserve).
#define LT_RECORD_IF_COVERED(WINDOW)                                                                    \
    "WITH p AS (SELECT 1 FROM token_pools WHERE owner_type = $7 AND owner_id = $8 AND provider = $9 "   \
    "AND allowance_remaining >= $10::bigint - purchased_remaining " WINDOW ") "                         \
    "INSERT INTO token_outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at) "     \
    "SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text FROM p"
constexpr std::string_view kRecordIfCoveredSql =
    LT_RECORD_IF_COVERED("AND reset_time IS NOT NULL AND reset_time > $11");
constexpr std::string_view kRecordIfCoveredNoWindowSql = LT_RECORD_IF_COVERED("");
#undef LT_RECORD_IF_COVERED

/// PostgreSQL, one statement: inserts `outbox` when the pool covers `tokens` and its window is not
/// due. The statement record_if_covered_in_one_statement() runs (its group-commit lead).
Result<BoundStatement> bind_record_if_covered_one(const PoolKey& key, std::int64_t tokens, bool window_enabled,
                                                  Clock::time_point now, const BoundStatement& outbox) {
    if (outbox.params.size() != 6 || outbox.sql.rfind(kOutboxInsertPrefix, 0) != 0) {
        return fail(Errc::internal, "unexpected outbox row shape");
    }
    BoundStatement st{window_enabled ? kRecordIfCoveredSql : kRecordIfCoveredNoWindowSql, outbox.params};
    st.params.emplace_back(std::string(to_string(key.type)));
    st.params.emplace_back(key.owner_id);
    st.params.emplace_back(key.provider);
    st.params.emplace_back(tokens);
    if (window_enabled) st.params.emplace_back(format_rfc3339(now));
    return st;
}

/// True when it inserted; false when the general path must decide (nothing written).
Result<bool> record_if_covered_in_one_statement(ports::SqlSession& s, const PoolKey& key, std::int64_t tokens,
                                                bool window_enabled, Clock::time_point now,
                                                const BoundStatement& outbox) {
    auto st = bind_record_if_covered_one(key, tokens, window_enabled, now, outbox);
    if (!st) return fail(st.error());
    auto q = s.execute(st->sql, std::span<const ports::SqlValue>(st->params));
    if (!q) return fail(q.error());
    return q->affected == 1;
}

/// `st` as a group-commit lead (nullopt when it could not be bound: the unit then reports it).
std::optional<GroupCommitter::Lead> lead_of(Result<BoundStatement> st) {
    if (!st) return std::nullopt;
    return GroupCommitter::Lead{st->sql, std::move(st->params)};
}

}  // namespace

/// What the ledger and the reservations it issued share.
struct SharedQuotaLedger::Core {
    Core(GroupCommitter& c, SharedLedgerOptions o, bool l) : committer(c), options(o), lock(l) {
        if (lock) {
            for (std::size_t i = 1; i < options.lanes; ++i) {
                lanes.push_back(std::make_unique<GroupCommitter>(c.database(), c.max_batch(), c.after_commit()));
            }
            for (std::size_t i = 0; i < options.durable_lanes; ++i) {
                durable_lanes.push_back(std::make_unique<GroupCommitter>(c.database(), c.max_batch(), c.after_commit()));
            }
        }
    }
    GroupCommitter& committer;
    const SharedLedgerOptions options;
    const bool lock;  ///< SELECT ... FOR UPDATE (PostgreSQL)
    std::vector<std::unique_ptr<GroupCommitter>> lanes;  ///< lanes beyond `committer` (PostgreSQL)
    std::vector<std::unique_ptr<GroupCommitter>> durable_lanes;  ///< see SharedLedgerOptions::durable_lanes
    std::atomic<std::uint64_t> failed_refunds{0};

    /// The committer of the pool whose map_key() is `k`: always the same one for one pool.
    GroupCommitter& lane(const std::string& k) {
        if (lanes.empty()) return committer;
        const std::size_t i = std::hash<std::string>{}(k) % (lanes.size() + 1);
        return i == 0 ? committer : *lanes[i - 1];
    }

    /// The committer of a durable unit of pool `k` that locks no pool row (the pool's lane when there
    /// are no durable lanes): always the same one for one pool.
    GroupCommitter& durable_lane(const std::string& k) {
        if (durable_lanes.empty()) return lane(k);
        return *durable_lanes[std::hash<std::string>{}(k) % durable_lanes.size()];
    }

    /// The unit that refunds a reservation exactly once: only the transaction that deletes its row
    /// credits the split back.
    GroupCommitter::Work refund_work(StoredReservation r, Clock::time_point now) const {
        return [r = std::move(r), now, lock = lock](ports::SqlSession& s) -> Result<void> {
            auto deleted = delete_reservation(s, r.id);
            if (!deleted) return fail(deleted.error());
            if (!*deleted) return ok();  // settled, released or swept already
            return refund_split(s, r, lock, now);
        };
    }

    /// Queues a refund without waiting for it.
    void queue_refund(std::shared_ptr<Core> self, StoredReservation r, Clock::time_point now) {
        std::string k = map_key(r.key);
        GroupCommitter& c = lane(k);
        c.enqueue(refund_work(std::move(r), now), make_waiter([self = std::move(self)](Result<void> done) {
                      if (!done) self->failed_refunds.fetch_add(1, std::memory_order_relaxed);
                  }),
                  std::move(k), false);  // lost only with the server's crash: then the sweep refunds
    }
};

namespace {

/// A held shared reservation: its row id and split. Releasing queues the refund unit.
class SharedHold final : public ReservationHold {
public:
    SharedHold(std::shared_ptr<SharedQuotaLedger::Core> core, StoredReservation r)
        : core_(std::move(core)), r_(std::move(r)) {}
    void release() noexcept override {
        try {
            core_->queue_refund(core_, r_, Clock::now());
        } catch (...) {
            core_->failed_refunds.fetch_add(1, std::memory_order_relaxed);  // the sweep refunds it
        }
    }
    const StoredReservation& reservation() const { return r_; }

private:
    std::shared_ptr<SharedQuotaLedger::Core> core_;
    StoredReservation r_;
};

}  // namespace

SharedQuotaLedger::SharedQuotaLedger(ports::SqlDatabase& db, BlockingPool& blocking, GroupCommitter& committer,
                                     SharedLedgerOptions options)
    : db_(db), blocking_(blocking), core_(std::make_shared<Core>(committer, options, db.dialect() == "postgres")) {}

SharedQuotaLedger::~SharedQuotaLedger() {
    for (auto& lane : core_->lanes) lane->stop();
    for (auto& lane : core_->durable_lanes) lane->stop();
}

Result<void> SharedQuotaLedger::flush_sync() {
    auto noop = [](ports::SqlSession&) -> Result<void> { return ok(); };
    if (auto r = core_->committer.submit_sync(noop); !r) return r;
    for (auto& lane : core_->lanes) {
        if (auto r = lane->submit_sync(noop); !r) return r;
    }
    for (auto& lane : core_->durable_lanes) {
        if (auto r = lane->submit_sync(noop); !r) return r;
    }
    return ok();
}

std::uint64_t SharedQuotaLedger::failed_refunds() const {
    return core_->failed_refunds.load(std::memory_order_relaxed);
}

bool SharedQuotaLedger::known(const PoolKey& key) const {
    std::lock_guard lock(known_mutex_);
    return known_.count(map_key(key)) > 0;
}

void SharedQuotaLedger::remember(const PoolKey& key) {
    std::lock_guard lock(known_mutex_);
    known_.insert(map_key(key));
}

void SharedQuotaLedger::invalidate(const PoolKey&) {}

boost::asio::awaitable<Result<std::optional<PoolView>>> SharedQuotaLedger::get(PoolKey key,
                                                                                std::optional<std::int64_t> tier_cap,
                                                                                Clock::time_point now) {
    key = normalized(std::move(key));
    std::optional<PoolView> view;
    const auto window = core_->options.quota.window;
    const bool lock = core_->lock;
    // On the pool's lane, after what this process queued for it (a refund queued by release() is
    // seen by the next view), like every unit of the pool. Not durable: a lazy reset is redone.
    std::string order = map_key(key);
    GroupCommitter& lane = core_->lane(order);
    GroupCommitter::Work work = [&](ports::SqlSession& s) -> Result<void> {
        view.reset();
        auto loaded = load_pool_locked(s, key, false);
        if (!loaded) return fail(loaded.error());
        if (!*loaded) return ok();
        PoolBalance probe = (*loaded)->balance;
        if (apply_window_reset(probe, key.type, tier_cap, now, window)) {
            // The window is due: reset it durably under the row lock (rare: once per window).
            auto locked = load_pool_locked(s, key, lock);
            if (!locked) return fail(locked.error());
            if (!*locked) return ok();
            PoolBalance b = (*locked)->balance;
            if (apply_window_reset(b, key.type, tier_cap, now, window)) {
                const BoundStatement write = bind_balance_write(key, b, 0, now);
                if (auto w = run_statements(s, std::span(&write, 1)); !w) return w;
                (*locked)->balance = b;
                (*locked)->updated_at = now;
            }
            view = view_of_stored(**locked);
            return ok();
        }
        view = view_of_stored(**loaded);
        return ok();
    };
    auto op = lane.submit(std::move(work), std::move(order), false);
    auto r = co_await std::move(op);
    if (!r) co_return fail(r.error());
    if (view) remember(key);
    co_return view;
}

boost::asio::awaitable<Result<Reservation>> SharedQuotaLedger::reserve_up_to(PoolKey key, std::int64_t min_tokens,
                                                                             std::int64_t max_tokens,
                                                                             std::optional<std::int64_t> tier_cap,
                                                                             Clock::time_point now) {
    if (min_tokens <= 0 || max_tokens < min_tokens) co_return fail(Errc::invalid_argument, "tokens must be positive");
    key = normalized(std::move(key));
    struct Outcome {
        bool reserved = false;
        std::int64_t tokens = 0;
        StoredReservation r;
    };
    auto out = std::make_shared<Outcome>();
    out->r.id = new_uuid();
    out->r.key = key;
    const auto window = core_->options.quota.window;
    const auto expires = now + core_->options.reservation_timeout;
    GroupCommitter::Work work = [out, min_tokens, max_tokens, tier_cap, now, window, expires,
                                 lock = core_->lock](ports::SqlSession& s) -> Result<void> {
        out->reserved = false;  // a unit re-runs alone when its batch rolled back
        if (lock) {
            // PostgreSQL: the common case in one round trip; else the general path below decides.
            auto one = reserve_in_one_statement(s, out->r, min_tokens, max_tokens,
                                                window > std::chrono::milliseconds::zero(), now, expires);
            if (!one) return fail(one.error());
            if (*one) {
                out->tokens = saturating_add(out->r.split.from_allowance, out->r.split.from_purchased);
                out->reserved = true;
                return ok();
            }
        }
        auto loaded = load_pool_locked(s, out->r.key, lock);
        if (!loaded) return fail(loaded.error());
        if (!*loaded) return ok();
        PoolBalance b = (*loaded)->balance;
        const bool reset = apply_window_reset(b, out->r.key.type, tier_cap, now, window);
        const std::int64_t available = saturating_add(b.allowance_remaining, b.purchased_remaining);
        if (available < min_tokens) {
            if (!reset) return ok();
            const BoundStatement write = bind_balance_write(out->r.key, b, 0, now);
            return run_statements(s, std::span(&write, 1));
        }
        const std::int64_t tokens = std::min(max_tokens, available);
        out->tokens = tokens;
        const Debit d = debit(b, tokens);
        const BoundStatement write = bind_balance_write(out->r.key, b, d.from_purchased, now);
        if (auto w = run_statements(s, std::span(&write, 1)); !w) return w;
        out->r.split = d;
        out->r.window_reset = b.reset_time;
        if (auto w = insert_reservation(s, out->r, now, expires); !w) return w;
        out->reserved = true;
        return ok();
    };
    // Not durable: the reservation must be visible to every process before the provider is called,
    // but the client is answered only after the settle's durable commit, whose WAL flush covers it.
    // On PostgreSQL the one-statement reserve is the unit's lead (pipelined with its batch's).
    std::optional<GroupCommitter::Lead> lead;
    if (core_->lock) {
        lead = lead_of(bind_reserve_one(out->r, min_tokens, max_tokens, window > std::chrono::milliseconds::zero(), now,
                                        expires));
    }
    std::string order = map_key(key);
    GroupCommitter& lane = core_->lane(order);
    auto op = lane.submit(std::move(work), std::move(order), false, std::move(lead));
    auto committed = co_await std::move(op);
    if (!committed) co_return fail(committed.error());
    if (!out->reserved) co_return fail(insufficient());
    remember(key);
    const std::int64_t reserved = out->tokens;
    co_return Reservation(std::make_unique<SharedHold>(core_, std::move(out->r)), reserved, tier_cap);
}

void SharedQuotaLedger::release(Reservation reservation) { reservation.release_now(); }

boost::asio::awaitable<Result<void>> SharedQuotaLedger::settle(Reservation reservation, std::vector<OutboxRow> rows,
                                                               Clock::time_point now) {
    const std::int64_t all = reservation.tokens();
    auto op = settle_partial(std::move(reservation), all, std::move(rows), now);
    co_return co_await std::move(op);
}

boost::asio::awaitable<Result<void>> SharedQuotaLedger::settle_partial(Reservation reservation, std::int64_t spend,
                                                                       std::vector<OutboxRow> rows,
                                                                       Clock::time_point now) {
    auto* hold = dynamic_cast<SharedHold*>(reservation.hold());
    if (!hold) co_return fail(Errc::invalid_argument, "reservation already settled or released");
    auto owned = reservation.take_hold();  // from here on this settle owns the reservation
    std::vector<BoundStatement> statements;
    statements.reserve(rows.size());
    for (const auto& row : rows) statements.push_back(bind_outbox_insert(row));
    auto settled = std::make_shared<bool>(false);
    // The unspent part goes back: purchased tokens first (a debit takes them last), then allowance.
    StoredReservation unspent = hold->reservation();
    const std::int64_t back = std::max<std::int64_t>(0, reservation.tokens() - std::clamp<std::int64_t>(spend, 0, reservation.tokens()));
    unspent.split.from_purchased = std::min(back, hold->reservation().split.from_purchased);
    unspent.split.from_allowance = back - unspent.split.from_purchased;
    const bool one_statement = core_->lock && back == 0 && rows.size() == 1;
    std::optional<GroupCommitter::Lead> lead;
    if (one_statement) lead = lead_of(bind_settle_one(hold->reservation().id, statements.front()));
    GroupCommitter::Work work = [id = hold->reservation().id, st = std::move(statements), settled, back,
                                 unspent = std::move(unspent), now, lock = core_->lock](ports::SqlSession& s) -> Result<void> {
        *settled = false;
        if (lock && back == 0 && st.size() == 1) {
            // PostgreSQL, full spend, one event: delete + insert in one round trip.
            auto one = settle_in_one_statement(s, id, st.front());
            if (!one) return fail(one.error());
            *settled = *one;  // false: expired and refunded by a sweep, nothing spent
            return ok();
        }
        auto deleted = delete_reservation(s, id);
        if (!deleted) return fail(deleted.error());
        if (!*deleted) return ok();  // expired and refunded by a sweep: nothing to spend
        if (auto w = write_outbox(s, st); !w) return w;
        if (back > 0) {
            if (auto w = refund_split(s, unspent, lock, now); !w) return w;
        }
        *settled = true;
        return ok();
    };
    // The one-statement settle locks no pool row: it commits on a durable lane, so its WAL flush does
    // not hold up the reservations queued on the pool's lane.
    std::string order = map_key(hold->reservation().key);
    GroupCommitter& lane = one_statement ? core_->durable_lane(order) : core_->lane(order);
    auto op = lane.submit(std::move(work), std::move(order), true, std::move(lead));
    auto committed = co_await std::move(op);
    if (!committed) {
        owned->release();  // nothing of the settle committed: give the tokens back
        co_return fail(committed.error());
    }
    if (!*settled) co_return fail(Errc::conflict, "quota reservation expired before it was settled");
    co_return ok();
}

boost::asio::awaitable<Result<void>> SharedQuotaLedger::record(std::vector<OutboxRow> rows) {
    if (rows.empty()) co_return ok();
    std::vector<BoundStatement> statements;
    statements.reserve(rows.size());
    for (const auto& row : rows) statements.push_back(bind_outbox_insert(row));
    auto op = core_->committer.submit(
        [st = std::move(statements)](ports::SqlSession& s) { return write_outbox(s, st); });
    co_return co_await std::move(op);
}

boost::asio::awaitable<Result<void>> SharedQuotaLedger::record_if_covered(PoolKey key, std::int64_t tokens,
                                                                         std::optional<std::int64_t> tier_cap,
                                                                         Clock::time_point now,
                                                                         std::vector<OutboxRow> rows) {
    if (tokens <= 0) co_return fail(Errc::invalid_argument, "tokens must be positive");
    key = normalized(std::move(key));
    std::vector<BoundStatement> statements;
    statements.reserve(rows.size());
    for (const auto& row : rows) statements.push_back(bind_outbox_insert(row));
    auto covered = std::make_shared<bool>(false);
    const auto window = core_->options.quota.window;
    std::optional<GroupCommitter::Lead> lead;
    if (core_->lock && statements.size() == 1) {
        lead = lead_of(bind_record_if_covered_one(key, tokens, window > std::chrono::milliseconds::zero(), now,
                                                  statements.front()));
    }
    GroupCommitter::Work work = [key, tokens, tier_cap, now, window, st = std::move(statements), covered,
                                 lock = core_->lock](ports::SqlSession& s) -> Result<void> {
        *covered = false;  // a unit re-runs alone when its batch rolled back
        if (lock && st.size() == 1) {
            auto one = record_if_covered_in_one_statement(s, key, tokens, window > std::chrono::milliseconds::zero(),
                                                          now, st.front());
            if (!one) return fail(one.error());
            if (*one) {
                *covered = true;
                return ok();
            }
        }
        auto loaded = load_pool_locked(s, key, false);
        if (!loaded) return fail(loaded.error());
        if (!*loaded) return ok();  // no pool: 402
        PoolBalance probe = (*loaded)->balance;  // judged as reserve() would, written by nobody
        (void)apply_window_reset(probe, key.type, tier_cap, now, window);
        if (saturating_add(probe.allowance_remaining, probe.purchased_remaining) < tokens) return ok();
        if (auto w = write_outbox(s, st); !w) return w;
        *covered = true;
        return ok();
    };
    // Durable (the caller answers 429 only after the usage event is committed, as before) and locking
    // no pool row: on a durable lane. It reads the latest committed balance.
    std::string order = map_key(key);
    GroupCommitter& lane = core_->durable_lane(order);
    auto op = lane.submit(std::move(work), std::move(order), true, std::move(lead));
    auto committed = co_await std::move(op);
    if (!committed) co_return fail(committed.error());
    if (!*covered) co_return fail(insufficient());
    co_return ok();
}

boost::asio::awaitable<Result<PoolView>> SharedQuotaLedger::set_allowance(PoolKey key, std::int64_t allowance,
                                                                          std::optional<std::int64_t> tier_cap,
                                                                          Clock::time_point now, bool only_if_absent) {
    if (allowance < 0) co_return fail(Errc::invalid_argument, "allowance must not be negative");
    key = normalized(std::move(key));
    if (only_if_absent && known(key)) co_return fail(Errc::conflict, "pool exists");
    struct Outcome {
        std::optional<Error> refused;
        PoolView view;
    };
    auto out = std::make_shared<Outcome>();
    const auto window = core_->options.quota.window;
    GroupCommitter::Work work = [out, key, allowance, tier_cap, now, window, only_if_absent,
                                 lock = core_->lock](ports::SqlSession& s) -> Result<void> {
        out->refused.reset();
        PoolBalance next;
        next.allowance = next.allowance_remaining = capped_allowance(allowance, key.type, tier_cap);
        if (window > std::chrono::milliseconds::zero()) next.reset_time = now + std::chrono::duration_cast<Clock::duration>(window);
        if (only_if_absent) {
            // DO NOTHING, never DO UPDATE: two processes creating the default pool at once must not
            // refill a pool the other one already spent from.
            auto created = insert_pool_if_absent(s, key, new_uuid(), next, now);
            if (!created) return fail(created.error());
            if (!*created) {
                out->refused = Error{Errc::conflict, "pool exists"};
                return ok();
            }
        } else {
            auto loaded = load_pool_locked(s, key, lock);
            if (!loaded) return fail(loaded.error());
            const std::int64_t purchased = *loaded ? (*loaded)->balance.purchased_total : 0;
            if (next.allowance > kMax - purchased) {
                out->refused = Error{Errc::invalid_argument, "token balance would overflow"};
                return ok();
            }
            const BoundStatement upsert = bind_allowance_upsert(key, *loaded ? (*loaded)->id : new_uuid(), next, now);
            if (auto w = run_statements(s, std::span(&upsert, 1)); !w) return w;
        }
        auto stored = load_pool_locked(s, key, false);
        if (!stored) return fail(stored.error());
        if (!*stored) return fail(Errc::internal, "quota pool row missing");
        out->view = view_of_stored(**stored);
        return ok();
    };
    std::string order = map_key(key);
    GroupCommitter& lane = core_->lane(order);
    auto op = lane.submit(std::move(work), std::move(order));
    auto committed = co_await std::move(op);
    if (!committed) co_return fail(committed.error());
    if (out->refused) {
        if (out->refused->code == Errc::conflict) remember(key);
        co_return fail(std::move(*out->refused));
    }
    remember(key);
    co_return out->view;
}

boost::asio::awaitable<Result<void>> SharedQuotaLedger::credit_purchase(PoolKey key, std::int64_t tokens,
                                                                        Clock::time_point now,
                                                                        GroupCommitter::Work extra) {
    if (tokens <= 0) co_return fail(Errc::invalid_argument, "tokens must be positive");
    key = normalized(std::move(key));
    GroupCommitter::Work work = [key, tokens, now, extra = std::move(extra)](ports::SqlSession& s) -> Result<void> {
        if (auto r = credit_purchase_sql(s, key, tokens, now); !r) return r;
        if (extra) return extra(s);
        return ok();
    };
    std::string order = map_key(key);
    GroupCommitter& lane = core_->lane(order);
    auto op = lane.submit(std::move(work), std::move(order));
    auto committed = co_await std::move(op);
    if (committed) remember(key);
    co_return committed;
}

boost::asio::awaitable<Result<std::size_t>> SharedQuotaLedger::sweep_expired(Clock::time_point now, std::size_t limit) {
    std::vector<StoredReservation> expired;
    auto load = db_.transact([&](ports::SqlSession& s) -> Result<void> {
        auto r = load_expired_reservations(s, now, limit);
        if (!r) return fail(r.error());
        expired = std::move(*r);
        return ok();
    });
    if (auto r = co_await std::move(load); !r) co_return fail(r.error());
    if (expired.empty()) co_return std::size_t{0};
    // Lock the pools in key order, as every batch does.
    std::stable_sort(expired.begin(), expired.end(), [](const StoredReservation& a, const StoredReservation& b) {
        return map_key(a.key) < map_key(b.key);
    });
    std::string order = map_key(expired.front().key);
    auto refunded = std::make_shared<std::size_t>(0);
    GroupCommitter::Work work = [expired = std::move(expired), refunded, now,
                                 lock = core_->lock](ports::SqlSession& s) -> Result<void> {
        *refunded = 0;
        for (const auto& r : expired) {
            auto deleted = delete_reservation(s, r.id);
            if (!deleted) return fail(deleted.error());
            if (!*deleted) continue;  // settled, released or swept by another process meanwhile
            if (auto w = refund_split(s, r, lock, now); !w) return w;
            ++*refunded;
        }
        return ok();
    };
    auto op = core_->committer.submit(std::move(work), std::move(order), false);  // a lost sweep runs again
    if (auto r = co_await std::move(op); !r) co_return fail(r.error());
    co_return *refunded;
}

}  // namespace lt::token
