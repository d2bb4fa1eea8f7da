#pragma once
/// The modules `leaky-tokens serve` can host, in start order (the gateway last: it opens the listener
/// once every other module is ready).

#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "lt/core/config.hpp"
#include "lt/core/module.hpp"
#include "lt/http/route_spec.hpp"

namespace lt::app {

struct ModuleSpec {
    std::string_view name;
    void (*describe)(config::Schema&);
    Result<std::unique_ptr<Module>> (*make)(ModuleContext);
    /// The public HTTP routes its contract declares (routes as data: the gateway knows them whether
    /// the module runs here or in another process).
    std::span<const http::RouteSpec> routes;
    /// Bus commands the module calls (a process without a registry must host their handlers).
    std::vector<std::string_view> calls{};
};

/// Every module of this build, in start order.
const std::vector<ModuleSpec>& module_list();

/// The full configuration schema: kernel keys and every module's keys.
config::Schema full_schema();

}  // namespace lt::app
