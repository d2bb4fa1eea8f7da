#include "lt/http/cluster_guard.hpp"

#include <cstdlib>

#include "lt/core/clock.hpp"
#include "lt/core/cluster.hpp"
#include "lt/core/config.hpp"
#include "lt/core/metrics.hpp"
#include "lt/http/errors.hpp"

namespace lt::http {

std::string cluster_secret(const config::Config& cfg) {
    auto secret = cfg.has("cluster.secret") ? cfg.get_string("cluster.secret") : std::string();
    if (secret.empty()) {
        if (const char* env = std::getenv("LEAKY_CLUSTER_SECRET"); env != nullptr) secret = env;
    }
    return secret;
}

ClusterGuard::ClusterGuard(std::string module, std::string secret, const Clock& clock, MetricsRegistry* metrics,
                           Logger log)
    : module_(std::move(module)), secret_(std::move(secret)), clock_(&clock), log_(std::move(log)) {
    if (metrics) {
        failures_ = &metrics
                         ->counter("lt_cluster_auth_failures_total",
                                   "Calls refused because their cluster signature was missing or invalid", {"module"})
                         .labels({module_});
    }
}

std::optional<Response> ClusterGuard::authenticate(const Request& req, Caller& caller) const {
    caller = Caller{};
    if (req.ctx.principal && !req.ctx.principal->user_id.empty()) {
        caller.has_principal = true;
        caller.admin = req.ctx.principal->has_role("ADMIN");
        return std::nullopt;
    }
    Result<cluster::Verified> verified = fail(Errc::unauthenticated, "cluster.secret is not configured");
    if (!secret_.empty()) {
        verified = cluster::verify(
            secret_, req.method, req.target, [&req](std::string_view name) { return req.header(name); }, req.body,
            clock_->now());
    }
    if (!verified) {
        if (failures_) failures_->inc();
        // The reason names what was wrong (missing, stale, mismatch), never the secret or signature.
        if (log_) {
            log_->warn("cluster call refused module={} method={} path={} reason=\"{}\" request_id={}", module_,
                       req.method, req.path, verified.error().message, req.ctx.request_id);
        }
        auto res = error_response(401, "authentication required", req.path);
        res.set_header("WWW-Authenticate", "Bearer");
        return res;
    }
    caller.signed_call = true;
    if (verified->principal) {
        caller.has_principal = true;
        caller.admin = verified->principal->has_role("ADMIN");
    }
    return std::nullopt;
}

std::optional<Response> ClusterGuard::require_admin_or_signed(const Request& req, Caller& caller) const {
    if (auto r = authenticate(req, caller)) return r;
    if (caller.signed_call || caller.admin) return std::nullopt;
    return error_response(403, "forbidden", req.path);
}

}  // namespace lt::http
