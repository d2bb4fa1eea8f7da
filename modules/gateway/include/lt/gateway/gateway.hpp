#pragma once
/// Contract of the gateway module: the public listener. It matches every request against the route
/// table, answers 404/405 itself, and dispatches the rest over the bus to the owning module
/// ("<owner>.http.v1").

#include <memory>

#include "lt/core/config.hpp"
#include "lt/core/module.hpp"

namespace lt::gateway {

/// Declares gateway.* configuration keys.
void describe_config(config::Schema& schema);

/// The module factory. Needs ctx.server and ctx.routes.
Result<std::unique_ptr<Module>> make_module(ModuleContext ctx);

}  // namespace lt::gateway
