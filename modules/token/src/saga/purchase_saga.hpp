#pragma once
/// PurchaseSaga: buys purchased tokens in committed steps (seed-behavior §4.6 with the fixes of
/// ARCHITECTURE.md "Contract decisions"), resumable after a crash at any point.
///
///   1. STARTED           — saga row + TOKEN_PURCHASE_STARTED, one transaction (idempotency per user).
///   2. PAYMENT_RESERVED  — payment reserved at the provider (idempotent per saga), then the status and
///                          TOKEN_PAYMENT_RESERVED in one transaction. Declined → FAILED.
///   3. TOKENS_ALLOCATED  — the pool credit (P += n, p += n), the status and TOKEN_ALLOCATED in ONE
///                          transaction: tokens are credited exactly once.
///   4. COMPLETED         — payment captured, then the status and TOKEN_PURCHASE_COMPLETED.
///   FAILED               — status + TOKEN_PURCHASE_FAILED + PAYMENT_RELEASE_REQUESTED (compensation),
///                          one transaction; the compensation consumer releases the payment.
///
/// Every status change is a compare-and-set on the stored status, so the request that drives a saga,
/// a retry with the same idempotency key and the recovery job can race without applying a step twice.
/// The recovery job resumes stale PAYMENT_RESERVED / TOKENS_ALLOCATED sagas to completion, fails stale
/// STARTED ones (their request is gone; the payment may or may not be held) and re-releases payments of
/// FAILED sagas whose compensation was never applied.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "lt/core/blocking_pool.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/log.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/event_log.hpp"
#include "lt/ports/sql_database.hpp"
#include "quota/quota_ledger.hpp"
#include "saga/payment.hpp"
#include "saga/saga_store.hpp"

namespace lt::token {

/// `token.saga.*` settings the service uses.
struct SagaOptions {
    bool simulate_failure = false;                       ///< fail every saga after the payment step
    std::chrono::milliseconds stale_after{std::chrono::minutes(10)};  ///< recovery age threshold
    std::size_t recovery_batch = 100;                    ///< sagas handled per recovery pass at most
    /// A process recovers a saga only after claiming it for this long (token.saga.recovery.lease).
    std::chrono::milliseconds recovery_lease{std::chrono::minutes(5)};
    /// Test-only fault injection: terminate the process (like `kill -9`) right after the step that
    /// committed this status. nullopt = never.
    std::optional<SagaStatus> crash_after;
};

/// A purchase as requested (validated: UUIDs canonical, provider lower-case, tokens > 0).
struct PurchaseRequest {
    std::string user_id;
    std::optional<std::string> org_id;
    std::string provider;
    std::int64_t tokens = 0;
    std::optional<std::string> idempotency_key;  ///< trimmed, non-empty, ≤ 100 characters
};

/// Thread-safe; awaiting callers resume on their own executor.
class PurchaseSaga {
public:
    /// Every reference must outlive the service. `outbox_written` (may be empty) is called after each
    /// commit that wrote outbox rows (wakes the relay). `metrics` may be null.
    PurchaseSaga(ports::SqlDatabase& db, BlockingPool& blocking, QuotaLedger& quota, PaymentProvider& payments,
                 Clock& clock, MetricsRegistry* metrics, Logger log, SagaOptions options,
                 std::function<void()> outbox_written);

    /// Creates the saga (or finds the one of the same user and idempotency key) and drives it as far
    /// as it goes. Errc::conflict `Idempotency key reuse with different payload` when the key was used
    /// with another payload. A replay returns the stored saga unchanged (no side effects). An error
    /// after the saga was created leaves it to the recovery job and returns the saga as stored.
    boost::asio::awaitable<Result<Saga>> purchase(PurchaseRequest request);

    /// The saga `id` (canonical UUID), or nullopt.
    boost::asio::awaitable<Result<std::optional<Saga>>> find(std::string id);

    /// One recovery pass (see the file comment); returns how many sagas it finished or compensated.
    /// Each stale saga is first claimed (claim_recovery, lease options.recovery_lease): with several
    /// processes on one database exactly one recovers it, the others skip it.
    boost::asio::awaitable<Result<std::size_t>> recover_once();

    /// Handles one record of the purchase-events topic: a PAYMENT_RELEASE_REQUESTED releases the
    /// saga's payment and records the compensation; other events are ignored. Blocking (consumer thread).
    Result<void> handle_event(const ports::EventRecord& record);

private:
    /// Advances a non-terminal saga step by step until it is terminal or a step fails transiently.
    boost::asio::awaitable<Result<void>> advance(Saga& saga, bool recovering);
    /// Moves `saga` to FAILED with its compensation events. On a lost compare-and-set, reloads it.
    boost::asio::awaitable<Result<void>> fail_saga(Saga& saga, std::string reason, bool recovering);
    /// Compare-and-set to `to` with the event `event_type`; on a lost race reloads `saga` and returns ok
    /// (the caller's loop continues from the stored status).
    boost::asio::awaitable<Result<void>> step(Saga& saga, SagaStatus to, std::string_view event_type,
                                              bool recovering);
    boost::asio::awaitable<Result<void>> reload(Saga& saga);
    /// Claims `saga` for this instance's recovery; false when another process holds it or it moved.
    boost::asio::awaitable<Result<bool>> claim(const Saga& saga);
    /// Releases the payment of a FAILED saga and records the compensation (idempotent). Blocking.
    Result<void> compensate(const std::string& saga_id);
    void after_commit(SagaStatus committed);
    void count(CounterFamily* family);

    ports::SqlDatabase& db_;
    BlockingPool& blocking_;
    QuotaLedger& quota_;
    PaymentProvider& payments_;
    Clock& clock_;
    Logger log_;
    SagaOptions options_;
    std::function<void()> outbox_written_;
    const std::string owner_;  ///< this instance's recovery claim id (random)
    CounterFamily* started_ = nullptr;
    CounterFamily* completed_ = nullptr;
    CounterFamily* failed_ = nullptr;
    CounterFamily* compensated_ = nullptr;
    CounterFamily* recovered_ = nullptr;
};

}  // namespace lt::token
