#include "saga/payment.hpp"

#include <thread>

#include "lt/core/time.hpp"

namespace lt::token {

using ports::SqlValue;

namespace {
SqlValue text(std::string_view v) { return SqlValue(std::string(v)); }

Result<PaymentState> read_state(ports::SqlSession& s, std::string_view saga_id) {
    auto r = s.execute("SELECT status FROM token_payments WHERE saga_id = $1", {text(saga_id)});
    if (!r) return fail(r.error());
    if (r->rows.empty()) return PaymentState::none;
    auto status = ports::as_text(r->rows[0][0]).value_or("");
    if (status == "RESERVED") return PaymentState::reserved;
    if (status == "CAPTURED") return PaymentState::captured;
    if (status == "RELEASED") return PaymentState::released;
    return fail(Errc::internal, "payment of saga " + std::string(saga_id) + " has an unknown status");
}
}  // namespace

SimulatedPaymentProvider::SimulatedPaymentProvider(ports::SqlDatabase& db, Clock& clock,
                                                   SimulatedPaymentOptions options)
    : db_(db), clock_(clock), options_(options), rng_(std::random_device{}()) {}

void SimulatedPaymentProvider::simulate_latency() const {
    if (options_.latency.count() > 0) std::this_thread::sleep_for(options_.latency);
}

bool SimulatedPaymentProvider::declined() {
    if (options_.failure_rate <= 0.0) return false;
    if (options_.failure_rate >= 1.0) return true;
    std::lock_guard lock(rng_mutex_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < options_.failure_rate;
}

Result<void> SimulatedPaymentProvider::in_ledger(std::string_view saga_id, const LedgerStep& step) {
    simulate_latency();
    Result<void> answer = ok();
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        auto state = read_state(s, saga_id);
        if (!state) return fail(state.error());
        auto decided = step(s, *state, format_rfc3339(clock_.now()));
        if (!decided) return fail(decided.error());  // a database error: roll back
        answer = std::move(*decided);
        return ok();
    });
    if (!r) return r;
    return answer;
}

namespace {
Result<Result<void>> insert_payment(ports::SqlSession& s, std::string_view saga_id, std::string_view user_id,
                                    std::int64_t amount, std::string_view status, const std::string& now) {
    auto r = s.execute(
        "INSERT INTO token_payments (saga_id, user_id, amount, status, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $5)",
        {text(saga_id), text(user_id), SqlValue(amount), text(status), SqlValue(now)});
    if (!r) return fail(r.error());
    return Result<void>(ok());
}

Result<Result<void>> set_payment_status(ports::SqlSession& s, std::string_view saga_id, std::string_view status,
                                        const std::string& now) {
    auto r = s.execute("UPDATE token_payments SET status = $1, updated_at = $2 WHERE saga_id = $3",
                       {text(status), SqlValue(now), text(saga_id)});
    if (!r) return fail(r.error());
    return Result<void>(ok());
}

Result<Result<void>> refuse(Errc code, std::string message) { return Result<void>(fail(code, std::move(message))); }
}  // namespace

Result<void> SimulatedPaymentProvider::reserve(std::string_view saga_id, std::string_view user_id, std::int64_t amount) {
    // A decision already taken for this saga stands (idempotent); only a new reservation may be declined.
    const bool decline = declined();
    return in_ledger(saga_id, [&](ports::SqlSession& s, PaymentState state, const std::string& now) -> Result<Result<void>> {
        switch (state) {
            case PaymentState::reserved:
            case PaymentState::captured:
                return Result<void>(ok());
            case PaymentState::released:
                return refuse(Errc::conflict, "payment already released");
            case PaymentState::none:
                break;
        }
        if (decline) return refuse(Errc::payment_required, "payment declined");
        return insert_payment(s, saga_id, user_id, amount, "RESERVED", now);
    });
}

Result<void> SimulatedPaymentProvider::capture(std::string_view saga_id) {
    return in_ledger(saga_id, [&](ports::SqlSession& s, PaymentState state, const std::string& now) -> Result<Result<void>> {
        if (state == PaymentState::captured) return Result<void>(ok());
        if (state != PaymentState::reserved) return refuse(Errc::conflict, "no reserved payment to capture");
        return set_payment_status(s, saga_id, "CAPTURED", now);
    });
}

Result<void> SimulatedPaymentProvider::release(std::string_view saga_id) {
    return in_ledger(saga_id, [&](ports::SqlSession& s, PaymentState state, const std::string& now) -> Result<Result<void>> {
        switch (state) {
            case PaymentState::captured:
                return refuse(Errc::conflict, "payment already captured");
            case PaymentState::released:
                return Result<void>(ok());
            case PaymentState::none:
                // A tombstone: a reservation arriving later for this saga (a step racing its
                // compensation) is refused instead of holding money for a failed purchase.
                return insert_payment(s, saga_id, "", 0, "RELEASED", now);
            case PaymentState::reserved:
                break;
        }
        return set_payment_status(s, saga_id, "RELEASED", now);
    });
}

Result<PaymentState> SimulatedPaymentProvider::state(std::string_view saga_id) {
    Result<PaymentState> out = PaymentState::none;
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        out = read_state(s, saga_id);
        return ok();
    });
    if (!r) return fail(r.error());
    return out;
}

}  // namespace lt::token
