#pragma once
/// Which module owns which public path prefix (seed-behavior.md §2.4), with the original route ids.

#include <string_view>

#include "lt/core/result.hpp"
#include "lt/http/router.hpp"

namespace lt::gateway {

struct PrefixRoute {
    std::string_view prefix;    ///< e.g. "/api/v1/tokens/"
    std::string_view owner;     ///< module name
    std::string_view route_id;  ///< original gateway route id, e.g. "token-service"
};

/// The prefix entry that covers `path`, or nullptr.
const PrefixRoute* find_prefix(std::string_view path);

/// True for the paths any client may call without credentials (CONTRACT.md item 5).
bool is_public_path(std::string_view path);

/// True for a route template made only of parameters ("/{application}/{profile}"): a catch-all that
/// answers paths no other module owns.
bool is_catch_all(std::string_view route);

/// Checks that every registered route lies under a prefix owned by its module (start-up).
Result<void> verify_routes(const http::Router& router);

}  // namespace lt::gateway
