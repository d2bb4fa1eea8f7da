#include "auth_metrics.hpp"

namespace lt::auth {

namespace {

CounterFamily& family(MetricsRegistry& r, const char* name, const char* help) {
    return r.counter(name, help, {"outcome", "reason"});
}

}  // namespace

AuthMetrics::AuthMetrics(MetricsRegistry& r)
    : register_success_(family(r, "auth_register_total", "User registrations").labels({"success", ""})),
      register_invalid_(family(r, "auth_register_total", "User registrations").labels({"failure", "invalid"})),
      login_success_(family(r, "auth_login_total", "Logins").labels({"success", ""})),
      login_invalid_(family(r, "auth_login_total", "Logins").labels({"failure", "invalid"})),
      create_success_(family(r, "auth_api_key_create_total", "API keys created").labels({"success", ""})),
      create_invalid_(family(r, "auth_api_key_create_total", "API keys created").labels({"failure", "invalid"})),
      validate_(family(r, "auth_api_key_validate_total", "API key validations")),
      validate_success_(validate_.labels({"success", ""})) {
    for (auto reason : {"missing", "revoked", "invalid", "expired"}) validate_.labels({"failure", reason});
}

void AuthMetrics::api_key_validate_failure(std::string_view reason) { validate_.labels({"failure", reason}).inc(); }

}  // namespace lt::auth
