#pragma once
/// Contract of the token module: quota pools (users, organizations, tiers, reset windows), the rate
/// limiters (leaky bucket, token bucket, fixed window), the consume path and its usage events.
/// Public HTTP: /api/v1/tokens/**.

#include <memory>
#include <string_view>

#include "lt/core/config.hpp"
#include "lt/core/module.hpp"
#include "lt/core/result.hpp"

namespace lt::token {

/// Event type of a usage event in the outbox envelope (published to topic `token-usage`).
inline constexpr std::string_view kUsageEventType = "token.usage.v1";

/// Declares token.* and feature.flags.token-service.* configuration keys.
void describe_config(config::Schema& schema);

/// The module factory. Needs ctx.sql, ctx.kv, ctx.blocking and the providers' bus command.
Result<std::unique_ptr<Module>> make_module(ModuleContext ctx);

}  // namespace lt::token
