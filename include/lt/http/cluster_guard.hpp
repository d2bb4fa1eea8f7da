#pragma once
/// Authentication of a module's routes that other processes call (registry, config): a request is
/// accepted when the gateway verified a principal, or when it carries a valid cluster signature
/// (lt/core/cluster.hpp) made with `cluster.secret`. A refused call answers 401, is counted in
/// `lt_cluster_auth_failures_total{module}` and logged once, without secrets.

#include <optional>
#include <string>
#include <string_view>

#include "lt/core/log.hpp"
#include "lt/http/message.hpp"

namespace lt {
class Clock;
class Counter;
class MetricsRegistry;
namespace config {
class Config;
}
}  // namespace lt

namespace lt::http {

/// `cluster.secret`, or the environment variable LEAKY_CLUSTER_SECRET when the key is empty; empty
/// when neither is set. Start-up only (reads the environment).
std::string cluster_secret(const config::Config& cfg);

/// Who is calling, once accepted.
struct Caller {
    bool signed_call = false;  ///< true: a process holding cluster.secret signed the call
    bool admin = false;        ///< the principal (verified by the gateway or carried by the signed call) is ADMIN
    bool has_principal = false;
};

/// Checks principals and cluster signatures for one module. Immutable after construction; any
/// thread (the counter is atomic).
class ClusterGuard {
public:
    /// `metrics` may be null (no counting). `clock` gives the time the signature is checked against.
    ClusterGuard(std::string module, std::string secret, const Clock& clock, MetricsRegistry* metrics, Logger log);

    /// The caller, or the 401 response: a request with a principal (set by the gateway) is accepted
    /// as is; one without needs a valid signature (a missing, stale or wrong one → 401).
    std::optional<Response> authenticate(const Request& req, Caller& caller) const;

    /// authenticate(), then 403 unless the call is signed or the principal is ADMIN.
    std::optional<Response> require_admin_or_signed(const Request& req, Caller& caller) const;

    /// True when a secret is configured (without one, only principals are accepted).
    bool has_secret() const { return !secret_.empty(); }

private:
    std::string module_;
    std::string secret_;
    const Clock* clock_;
    Counter* failures_ = nullptr;
    Logger log_;
};

}  // namespace lt::http
