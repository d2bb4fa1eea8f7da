#pragma once
/// The auth module's counters (seed-behavior.md §6.1), every label combination registered up front
/// so that dashboards see zeros before the first event.

#include <string_view>

#include "lt/core/metrics.hpp"

namespace lt::auth {

/// Thread-safe (counters are atomic).
class AuthMetrics {
public:
    explicit AuthMetrics(MetricsRegistry& registry);

    /// auth_register_total{outcome="success"|"failure", reason="" | "invalid"}.
    void register_success() { register_success_.inc(); }
    void register_failure() { register_invalid_.inc(); }
    /// auth_login_total, same labels.
    void login_success() { login_success_.inc(); }
    void login_failure() { login_invalid_.inc(); }
    /// auth_api_key_create_total, same labels.
    void api_key_create_success() { create_success_.inc(); }
    void api_key_create_failure() { create_invalid_.inc(); }
    /// auth_api_key_validate_total{outcome, reason ∈ "", missing, revoked, invalid, expired}.
    void api_key_validate_success() { validate_success_.inc(); }
    void api_key_validate_failure(std::string_view reason);

private:
    Counter& register_success_;
    Counter& register_invalid_;
    Counter& login_success_;
    Counter& login_invalid_;
    Counter& create_success_;
    Counter& create_invalid_;
    CounterFamily& validate_;
    Counter& validate_success_;
};

}  // namespace lt::auth
