#include "module_list.hpp"

#include "lt/analytics/analytics.hpp"
#include "lt/auth/auth.hpp"
#include "lt/config_server/config_server.hpp"
#include "lt/gateway/gateway.hpp"
#include "lt/providers/providers.hpp"
#include "lt/registry/registry.hpp"
#include "lt/token/token.hpp"

namespace lt::app {

const std::vector<ModuleSpec>& module_list() {
    static const std::vector<ModuleSpec> kModules{
        // Registry and config first: other processes find and configure themselves through them.
        {"registry", &registry::describe_config, &registry::make_module, registry::kRoutes},
        {"config", &config_server::describe_config, &config_server::make_module, config_server::kRoutes},
        {"providers", &providers::describe_config, &providers::make_module, providers::kRoutes},
        {"auth", &auth::describe_config, &auth::make_module, auth::kRoutes},
        // Analytics before token: modules stop in reverse order, so the token module's outbox relay
        // flushes to the event log while the analytics consumers still run.
        {"analytics", &analytics::describe_config, &analytics::make_module, analytics::kRoutes},
        {"token", &token::describe_config, &token::make_module, token::kRoutes,
         {providers::kChat.name, providers::kCompletion.name, providers::kModels.name, auth::kGetUser.name}},
        {"gateway", &gateway::describe_config, &gateway::make_module, {}, {auth::kVerifyKey.name, auth::kJwks.name}},
    };
    return kModules;
}

config::Schema full_schema() {
    config::Schema schema;
    config::describe_kernel(schema);
    for (const auto& m : module_list()) m.describe(schema);
    return schema;
}

}  // namespace lt::app
