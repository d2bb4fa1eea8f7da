#include "saga/purchase_saga.hpp"

#include <csignal>
#include <span>

#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "quota/pool_store.hpp"

namespace asio = boost::asio;

namespace lt::token {

namespace {

constexpr std::string_view kAggregate = "TokenPurchaseSaga";
constexpr std::string_view kCompensation = "TokenPurchaseSagaCompensation";
constexpr std::string_view kRecovery = "TokenPurchaseSagaRecovery";
constexpr std::string_view kRecoveryCompensation = "TokenPurchaseSagaRecoveryCompensation";
constexpr std::string_view kReleaseRequested = "PAYMENT_RELEASE_REQUESTED";

std::string_view event_for(SagaStatus status) {
    switch (status) {
        case SagaStatus::started: return "TOKEN_PURCHASE_STARTED";
        case SagaStatus::payment_reserved: return "TOKEN_PAYMENT_RESERVED";
        case SagaStatus::tokens_allocated: return "TOKEN_ALLOCATED";
        case SagaStatus::completed: return "TOKEN_PURCHASE_COMPLETED";
        case SagaStatus::failed: return "TOKEN_PURCHASE_FAILED";
    }
    return "TOKEN_PURCHASE_FAILED";
}

Result<void> insert_event(ports::SqlSession& session, const OutboxRow& row) {
    const BoundStatement statement = bind_outbox_insert(row);
    return run_statements(session, std::span(&statement, 1));
}

}  // namespace

PurchaseSaga::PurchaseSaga(ports::SqlDatabase& db, BlockingPool& blocking, QuotaLedger& quota,
                           PaymentProvider& payments, Clock& clock, MetricsRegistry* metrics, Logger log,
                           SagaOptions options, std::function<void()> outbox_written)
    : db_(db),
      blocking_(blocking),
      quota_(quota),
      payments_(payments),
      clock_(clock),
      log_(std::move(log)),
      options_(options),
      outbox_written_(std::move(outbox_written)),
      owner_(new_uuid()) {
    if (metrics) {
        started_ = &metrics->counter("token_purchase_saga_started_total", "Purchase sagas started");
        completed_ = &metrics->counter("token_purchase_saga_completed_total", "Purchase sagas completed");
        failed_ = &metrics->counter("token_purchase_saga_failed_total", "Purchase sagas failed (compensated)");
        compensated_ = &metrics->counter("token_purchase_saga_compensated_total",
                                         "Payments of failed purchase sagas released");
        recovered_ = &metrics->counter("token_purchase_saga_recovered_total",
                                       "Stale purchase sagas finished or failed by the recovery job");
    }
}

void PurchaseSaga::count(CounterFamily* family) {
    if (family) family->labels({}).inc();
}

void PurchaseSaga::after_commit(SagaStatus committed) {
    if (outbox_written_) outbox_written_();
    if (options_.crash_after && *options_.crash_after == committed) {
        // Fault injection for the crash-recovery test: die like `kill -9`, no cleanup at all.
        if (log_) log_->critical("fault injection: killing the process after saga step {}", to_string(committed));
        if (log_) log_->flush();
        ::kill(::getpid(), SIGKILL);
    }
}

asio::awaitable<Result<Saga>> PurchaseSaga::purchase(PurchaseRequest request) {
    const auto now = clock_.now();
    Saga fresh;
    fresh.id = new_uuid();
    fresh.user_id = std::move(request.user_id);
    fresh.org_id = std::move(request.org_id);
    fresh.provider = std::move(request.provider);
    fresh.tokens = request.tokens;
    fresh.status = SagaStatus::started;
    fresh.idempotency_key = std::move(request.idempotency_key);
    fresh.created_at = now;
    fresh.updated_at = now;

    std::optional<Saga> existing;
    bool created = false;
    // Two rounds at most: a concurrent first request with the same key wins the unique index, and
    // the second round reads its saga.
    for (int round = 0; round < 2 && !created && !existing; ++round) {
        auto op = db_.transact([&](ports::SqlSession& s) -> Result<void> {
            existing.reset();
            if (fresh.idempotency_key) {
                auto found = find_saga_by_key(s, fresh.user_id, *fresh.idempotency_key);
                if (!found) return fail(found.error());
                if (*found) {
                    existing = std::move(**found);
                    return ok();
                }
            }
            if (auto r = insert_saga(s, fresh); !r) return r;
            return insert_event(s, saga_event(fresh, event_for(SagaStatus::started), kAggregate, now));
        });
        auto r = co_await std::move(op);
        if (r) {
            created = !existing;
        } else if (!(r.error().code == Errc::conflict && fresh.idempotency_key && round == 0)) {
            co_return fail(r.error());
        }
    }
    if (existing) {
        if (!existing->same_payload(fresh)) {
            co_return fail(Errc::conflict, "Idempotency key reuse with different payload");
        }
        co_return std::move(*existing);
    }
    if (!created) co_return fail(Errc::unavailable, "purchase could not be recorded");
    count(started_);
    after_commit(SagaStatus::started);

    Saga saga = fresh;
    auto op = advance(saga, false);
    auto advanced = co_await std::move(op);
    if (!advanced && log_) {
        log_->warn("purchase saga {} paused at {} (the recovery job resumes it): {}", saga.id, to_string(saga.status),
                   advanced.error().message);
    }
    co_return saga;
}

asio::awaitable<Result<std::optional<Saga>>> PurchaseSaga::find(std::string id) {
    std::optional<Saga> out;
    auto op = db_.transact([&](ports::SqlSession& s) -> Result<void> {
        auto found = load_saga(s, id);
        if (!found) return fail(found.error());
        out = std::move(*found);
        return ok();
    });
    auto r = co_await std::move(op);
    if (!r) co_return fail(r.error());
    co_return out;
}

asio::awaitable<Result<void>> PurchaseSaga::reload(Saga& saga) {
    auto op = find(saga.id);
    auto found = co_await std::move(op);
    if (!found) co_return fail(found.error());
    if (!*found) co_return fail(Errc::internal, "saga " + saga.id + " disappeared");
    saga = std::move(**found);
    co_return ok();
}

asio::awaitable<Result<void>> PurchaseSaga::step(Saga& saga, SagaStatus to, std::string_view event_type,
                                                 bool recovering) {
    const auto now = clock_.now();
    const auto aggregate = recovering ? kRecovery : kAggregate;
    Saga next = saga;
    auto op = db_.transact([&](ports::SqlSession& s) -> Result<void> {
        next = saga;
        if (auto r = transition_saga(s, next, to, now); !r) return r;
        return insert_event(s, saga_event(next, event_type, aggregate, now));
    });
    auto r = co_await std::move(op);
    if (!r) {
        if (r.error().code != Errc::conflict) co_return r;
        auto again = reload(saga);  // another actor moved it first: continue from what it stored
        co_return co_await std::move(again);
    }
    saga = std::move(next);
    if (to == SagaStatus::completed) count(completed_);
    after_commit(to);
    co_return ok();
}

asio::awaitable<Result<void>> PurchaseSaga::fail_saga(Saga& saga, std::string reason, bool recovering) {
    const auto now = clock_.now();
    Saga next = saga;
    auto op = db_.transact([&](ports::SqlSession& s) -> Result<void> {
        next = saga;
        if (auto r = transition_saga(s, next, SagaStatus::failed, now, reason); !r) return r;
        if (auto r = insert_event(s, saga_event(next, event_for(SagaStatus::failed),
                                                recovering ? kRecovery : kAggregate, now));
            !r) {
            return r;
        }
        return insert_event(s, saga_event(next, kReleaseRequested,
                                          recovering ? kRecoveryCompensation : kCompensation, now));
    });
    auto r = co_await std::move(op);
    if (!r) {
        if (r.error().code != Errc::conflict) co_return r;
        auto again = reload(saga);
        co_return co_await std::move(again);
    }
    saga = std::move(next);
    count(failed_);
    after_commit(SagaStatus::failed);
    co_return ok();
}

asio::awaitable<Result<void>> PurchaseSaga::advance(Saga& saga, bool recovering) {
    while (!saga.terminal()) {
        switch (saga.status) {
            case SagaStatus::started: {
                if (recovering) {
                    // Its request is gone; whether the payment was reserved is unknown, so release it.
                    auto op = fail_saga(saga, "purchase interrupted before the payment was confirmed", true);
                    if (auto r = co_await std::move(op); !r) co_return r;
                    break;
                }
                auto reserve = blocking_.run([this, id = saga.id, user = saga.user_id, amount = saga.tokens] {
                    return payments_.reserve(id, user, amount);
                });
                auto paid = co_await std::move(reserve);
                if (!paid) {
                    const auto code = paid.error().code;
                    if (code != Errc::payment_required && code != Errc::conflict) co_return paid;  // transient
                    auto op = fail_saga(saga, paid.error().message, recovering);
                    if (auto r = co_await std::move(op); !r) co_return r;
                    break;
                }
                auto op = step(saga, SagaStatus::payment_reserved, event_for(SagaStatus::payment_reserved), recovering);
                if (auto r = co_await std::move(op); !r) co_return r;
                break;
            }
            case SagaStatus::payment_reserved: {
                if (options_.simulate_failure) {
                    auto op = fail_saga(saga, "simulated failure", recovering);
                    if (auto r = co_await std::move(op); !r) co_return r;
                    break;
                }
                // The credit, the status change and its event commit together: credited exactly once.
                const auto now = clock_.now();
                Saga next = saga;
                next.status = SagaStatus::tokens_allocated;
                next.updated_at = now;
                GroupCommitter::Work extra =
                    [from = saga, now,
                     row = saga_event(next, event_for(SagaStatus::tokens_allocated), recovering ? kRecovery : kAggregate,
                                      now)](ports::SqlSession& s) -> Result<void> {
                    Saga moving = from;
                    if (auto r = transition_saga(s, moving, SagaStatus::tokens_allocated, now); !r) return r;
                    return insert_event(s, row);
                };
                auto op = quota_.credit_purchase(saga.pool(), saga.tokens, now, std::move(extra));
                auto credited = co_await std::move(op);
                if (credited) {
                    saga = std::move(next);
                    after_commit(SagaStatus::tokens_allocated);
                    break;
                }
                if (credited.error().code == Errc::conflict) {
                    auto again = reload(saga);
                    if (auto r = co_await std::move(again); !r) co_return r;
                    break;
                }
                if (credited.error().code == Errc::invalid_argument) {  // the balance would overflow
                    auto failing = fail_saga(saga, credited.error().message, recovering);
                    if (auto r = co_await std::move(failing); !r) co_return r;
                    break;
                }
                co_return credited;
            }
            case SagaStatus::tokens_allocated: {
                auto capture = blocking_.run([this, id = saga.id] { return payments_.capture(id); });
                if (auto r = co_await std::move(capture); !r) co_return r;
                auto op = step(saga, SagaStatus::completed, event_for(SagaStatus::completed), recovering);
                if (auto r = co_await std::move(op); !r) co_return r;
                break;
            }
            case SagaStatus::completed:
            case SagaStatus::failed:
                break;
        }
    }
    co_return ok();
}

asio::awaitable<Result<std::size_t>> PurchaseSaga::recover_once() {
    const auto cutoff = clock_.now() - options_.stale_after;
    std::vector<Saga> stale;
    std::vector<Saga> uncompensated;
    auto load = db_.transact([&](ports::SqlSession& s) -> Result<void> {
        auto a = load_stale_sagas(s, cutoff, options_.recovery_batch);
        if (!a) return fail(a.error());
        auto b = load_uncompensated(s, cutoff, options_.recovery_batch);
        if (!b) return fail(b.error());
        stale = std::move(*a);
        uncompensated = std::move(*b);
        return ok();
    });
    if (auto r = co_await std::move(load); !r) co_return fail(r.error());

    std::size_t done = 0;
    for (auto& saga : stale) {
        auto claiming = claim(saga);
        auto claimed = co_await std::move(claiming);
        if (!claimed || !*claimed) continue;  // another process recovers it (or it moved on)
        const auto from = saga.status;
        auto op = advance(saga, true);
        auto r = co_await std::move(op);
        if (!r) {
            if (log_) log_->warn("recovery of saga {} stopped at {}: {}", saga.id, to_string(saga.status), r.error().message);
            continue;
        }
        if (log_) log_->info("recovered saga {}: {} -> {}", saga.id, to_string(from), to_string(saga.status));
        count(recovered_);
        ++done;
    }
    for (auto& saga : uncompensated) {
        auto claiming = claim(saga);
        auto claimed = co_await std::move(claiming);
        if (!claimed || !*claimed) continue;
        auto op = blocking_.run([this, id = saga.id] { return compensate(id); });
        if (auto r = co_await std::move(op); !r) {
            if (log_) log_->warn("releasing the payment of failed saga {} failed: {}", saga.id, r.error().message);
            continue;
        }
        ++done;
    }
    co_return done;
}

asio::awaitable<Result<bool>> PurchaseSaga::claim(const Saga& saga) {
    const auto now = clock_.now();
    bool claimed = false;
    auto op = db_.transact([&](ports::SqlSession& s) -> Result<void> {
        auto r = claim_recovery(s, saga, owner_, now, now + options_.recovery_lease);
        if (!r) return fail(r.error());
        claimed = *r;
        return ok();
    });
    auto r = co_await std::move(op);
    if (!r) co_return fail(r.error());
    co_return claimed;
}

Result<void> PurchaseSaga::compensate(const std::string& saga_id) {
    if (auto r = payments_.release(saga_id); !r) return r;
    bool newly = false;
    auto marked = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        auto r = mark_compensated(s, saga_id, clock_.now());
        if (!r) return fail(r.error());
        newly = *r;
        return ok();
    });
    if (!marked) return marked;
    if (newly) count(compensated_);
    return ok();
}

Result<void> PurchaseSaga::handle_event(const ports::EventRecord& record) {
    auto parsed = parse_json_object(record.value);
    if (!parsed) {
        if (log_) log_->warn("skipping an unreadable purchase event at {}:{}", record.partition, record.offset);
        return ok();
    }
    auto* payload = parsed->if_contains("payload");
    if (!payload || !payload->is_object()) return ok();
    const auto& p = payload->as_object();
    auto* event = p.if_contains("event");
    auto* saga_id = p.if_contains("sagaId");
    if (!event || !event->is_string() || event->as_string() != kReleaseRequested) return ok();
    if (!saga_id || !saga_id->is_string()) return ok();
    return compensate(std::string(saga_id->as_string()));
}

}  // namespace lt::token
