#pragma once
/// Contract of the config module (module name "config"): Spring Cloud Config's shape, served from a
/// directory of YAML files (`config.server.search-locations`).
///
///   GET  /{application}/{profile}[/{label}]   Spring's Environment JSON (propertySources, most specific first)
///   GET  /{application}-{profile}.yml|.yaml   the merged document as YAML (text/plain)
///   GET  /{application}-{profile}.properties  the merged document as Java properties (text/plain)
///   POST /encrypt                             text → cipher text (ADMIN)
///   POST /decrypt                             cipher text → text (ADMIN)
///
/// Reads need an ADMIN principal or a cluster signature (lt/core/cluster.hpp). Values written
/// `{cipher}<base64>` are served decrypted (AES-256-GCM, key from LEAKY_CONFIG_ENCRYPT_KEY), or as
/// "<n/a>" when they cannot be.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "lt/core/config.hpp"
#include "lt/http/route_spec.hpp"
#include "lt/core/module.hpp"
#include "lt/core/result.hpp"

namespace lt::config_server {

/// Environment variable holding the passphrase of `{cipher}` values (any string; SHA-256 gives the key).
inline constexpr std::string_view kEncryptKeyEnv = "LEAKY_CONFIG_ENCRYPT_KEY";

/// Reads Spring's Environment JSON (GET /{application}/{profile}) into flat `key = text` pairs with
/// precedence applied (the first property source holding a key wins), in the order of the most
/// specific source first. Non-string values become their JSON text (`true`, `42`). For a process
/// applying `config.url`. Errc::invalid_argument on another shape.
Result<std::vector<std::pair<std::string, std::string>>> properties_from_environment(const boost::json::value& env);

/// Public HTTP routes of the config module (Spring Cloud Config's shape). The catch-all templates are
/// public at the gateway: the module answers 404 for an unknown application before it asks for
/// credentials, then needs ADMIN or a cluster signature itself (other processes fetch their configuration here).
inline constexpr http::RouteSpec kRoutes[] = {
    {"POST", "/encrypt", http::Access::required, "config-server"},
    {"POST", "/decrypt", http::Access::required, "config-server"},
    {"GET", "/{application}/{profile}", http::Access::optional, "config-server"},
    {"GET", "/{application}/{profile}/{label}", http::Access::optional, "config-server"},
    {"GET", "/{document}", http::Access::optional, "config-server"},
};

/// Declares config.server.search-locations.
void describe_config(config::Schema& schema);

/// The module factory.
Result<std::unique_ptr<Module>> make_module(ModuleContext ctx);

}  // namespace lt::config_server
