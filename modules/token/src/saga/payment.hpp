#pragma once
/// Payment port of the purchase saga, and the simulated provider used until a real one is configured.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include "lt/core/clock.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::token {

/// State of a saga's payment at the provider.
enum class PaymentState { none, reserved, captured, released };

/// A payment provider. Every operation is keyed by the saga id and idempotent, so a step re-run after a
/// crash or by the recovery job never reserves, captures or releases twice. Blocking: call from the
/// blocking pool or a worker thread, never from an I/O thread. Thread-safe.
class PaymentProvider {
public:
    virtual ~PaymentProvider() = default;
    /// Reserves `amount` tokens' price for `saga_id`. Errc::payment_required when the provider declines;
    /// Errc::conflict when this saga's payment was already released; other errors are transient.
    virtual Result<void> reserve(std::string_view saga_id, std::string_view user_id, std::int64_t amount) = 0;
    /// Captures the reservation (saga completed). Errc::conflict when none is held or it was released.
    virtual Result<void> capture(std::string_view saga_id) = 0;
    /// Releases the reservation (compensation). Succeeds when nothing is reserved (nothing to release).
    virtual Result<void> release(std::string_view saga_id) = 0;
    /// Current state of the saga's payment.
    virtual Result<PaymentState> state(std::string_view saga_id) = 0;
};

/// How the simulated provider behaves (`token.saga.payment.*`).
struct SimulatedPaymentOptions {
    double failure_rate = 0.0;                  ///< probability in [0, 1] that a reservation is declined
    std::chrono::milliseconds latency{0};       ///< added to every reserve/capture/release
};

/// A provider whose ledger is the table token_payments: durable, so its state survives restarts and
/// can be checked by recovery and by tests.
class SimulatedPaymentProvider final : public PaymentProvider {
public:
    /// `db` and `clock` must outlive the provider.
    SimulatedPaymentProvider(ports::SqlDatabase& db, Clock& clock, SimulatedPaymentOptions options);

    Result<void> reserve(std::string_view saga_id, std::string_view user_id, std::int64_t amount) override;
    Result<void> capture(std::string_view saga_id) override;
    Result<void> release(std::string_view saga_id) override;
    Result<PaymentState> state(std::string_view saga_id) override;

private:
    /// Decides one operation from the saga's current payment state inside one ledger transaction:
    /// returns the provider's answer, or an error that rolls the transaction back.
    using LedgerStep = std::function<Result<Result<void>>(ports::SqlSession&, PaymentState, const std::string& now)>;
    Result<void> in_ledger(std::string_view saga_id, const LedgerStep& step);
    void simulate_latency() const;
    bool declined();

    ports::SqlDatabase& db_;
    Clock& clock_;
    SimulatedPaymentOptions options_;
    std::mutex rng_mutex_;
    std::mt19937_64 rng_;
};

}  // namespace lt::token
