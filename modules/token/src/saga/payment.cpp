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

Result<void> SimulatedPaymentProvider::reserve(std::string_view saga_id, std::string_view user_id, std::int64_t amount) {
    simulate_latency();
    // A decision already taken for this saga stands (idempotent); only a new reservation may be declined.
    Result<void> out = ok();
    const bool decline = declined();
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        out = ok();
        auto state = read_state(s, saga_id);
        if (!state) return fail(state.error());
        switch (*state) {
            case PaymentState::reserved:
            case PaymentState::captured:
                return ok();
            case PaymentState::released:
                out = fail(Errc::conflict, "payment already released");
                return ok();
            case PaymentState::none:
                break;
        }
        if (decline) {
            out = fail(Errc::payment_required, "payment declined");
            return ok();
        }
        auto now = format_rfc3339(clock_.now());
        auto ins = s.execute(
            "INSERT INTO token_payments (saga_id, user_id, amount, status, created_at, updated_at) "
            "VALUES ($1, $2, $3, 'RESERVED', $4, $4)",
            {text(saga_id), text(user_id), SqlValue(amount), SqlValue(now)});
        if (!ins) return fail(ins.error());
        return ok();
    });
    if (!r) return r;
    return out;
}

Result<void> SimulatedPaymentProvider::capture(std::string_view saga_id) {
    simulate_latency();
    Result<void> out = ok();
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        out = ok();
        auto state = read_state(s, saga_id);
        if (!state) return fail(state.error());
        if (*state == PaymentState::captured) return ok();
        if (*state != PaymentState::reserved) {
            out = fail(Errc::conflict, "no reserved payment to capture");
            return ok();
        }
        auto up = s.execute("UPDATE token_payments SET status = 'CAPTURED', updated_at = $1 WHERE saga_id = $2",
                            {SqlValue(format_rfc3339(clock_.now())), text(saga_id)});
        if (!up) return fail(up.error());
        return ok();
    });
    if (!r) return r;
    return out;
}

Result<void> SimulatedPaymentProvider::release(std::string_view saga_id) {
    simulate_latency();
    Result<void> out = ok();
    auto r = db_.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        out = ok();
        auto state = read_state(s, saga_id);
        if (!state) return fail(state.error());
        if (*state == PaymentState::captured) {
            out = fail(Errc::conflict, "payment already captured");
            return ok();
        }
        if (*state == PaymentState::released) return ok();
        if (*state == PaymentState::none) {
            // A tombstone: a reservation arriving later for this saga (a step racing its compensation)
            // is refused instead of holding money for a failed purchase.
            auto ins = s.execute(
                "INSERT INTO token_payments (saga_id, user_id, amount, status, created_at, updated_at) "
                "VALUES ($1, '', 0, 'RELEASED', $2, $2)",
                {text(saga_id), SqlValue(format_rfc3339(clock_.now()))});
            if (!ins) return fail(ins.error());
            return ok();
        }
        auto up = s.execute("UPDATE token_payments SET status = 'RELEASED', updated_at = $1 WHERE saga_id = $2",
                            {SqlValue(format_rfc3339(clock_.now())), text(saga_id)});
        if (!up) return fail(up.error());
        return ok();
    });
    if (!r) return r;
    return out;
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
