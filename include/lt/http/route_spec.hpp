#pragma once
/// A route as data: what a module's contract declares about each of its public HTTP routes
/// (CONTRACT 32, routes as data). The gateway routes, authenticates and names routes from these
/// declarations, for local modules and for modules hosted in other processes alike.

#include <string_view>

namespace lt::http {

/// Who may call a route.
enum class Access {
    anonymous,  ///< no credentials are read at all (the kernel's /actuator/**, the console's files)
    optional,   ///< public (CONTRACT 5): credentials are used when valid, and a call without them passes
    required,   ///< a valid API key or JWT is required (401 otherwise)
};

/// One route of a module's contract. Literal type: contracts declare `constexpr` arrays of these.
struct RouteSpec {
    std::string_view method;    ///< upper-case, e.g. "POST"
    std::string_view path;      ///< template, e.g. "/api/v1/tokens/purchase/{sagaId}"
    Access access = Access::required;
    std::string_view route_id;  ///< the original gateway's route id (seed-behavior.md §2.4), e.g. "token-service"
};

}  // namespace lt::http
