#pragma once
/// config.url (CONTRACT 35): a process fetches its configuration from the config module at start.

#include <string>
#include <vector>

#include "lt/core/config.hpp"
#include "lt/core/result.hpp"

namespace lt::app {

/// GET {config.url}/leaky-tokens/{profile} (Spring Cloud Config's Environment JSON), signed with
/// cluster.secret (or LEAKY_CLUSTER_SECRET), within 5 s; the answer as "key=value" settings with
/// Spring's precedence applied. Blocking: start-up only. Errc::unavailable when the config module
/// cannot be reached or answers an error (the process then refuses to start: fail fast).
Result<std::vector<std::string>> fetch_remote_config(const config::Config& cfg, const std::string& profile);

}  // namespace lt::app
