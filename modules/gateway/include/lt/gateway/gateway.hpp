#pragma once
/// Contract of the gateway module: the public entry point. Installed as the kernel's public handler, it
/// matches every request against the route table, answers 404/405 itself, authenticates, then calls a
/// local route's handler directly or proxies a route hosted in another process (split mode) over signed
/// HTTP to an instance of its owner.

#include <memory>

#include "lt/core/config.hpp"
#include "lt/core/module.hpp"

namespace lt::gateway {

/// Declares gateway.* configuration keys.
void describe_config(config::Schema& schema);

/// The module factory. Needs ctx.kernel and ctx.routes (ctx.forwarder in split mode).
Result<std::unique_ptr<Module>> make_module(ModuleContext ctx);

}  // namespace lt::gateway
