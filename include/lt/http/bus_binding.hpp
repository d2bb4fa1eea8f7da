#pragma once
/// Carries HTTP requests to a module over the bus: the gateway sends the Request (as JSON) to the
/// command "<owner>.http.v1"; the owning module's binding runs the matching route and replies with the
/// Response. The same messages cross processes in split mode. A streamed Response (Response::stream)
/// is run to its end on the owner's side and crosses buffered, as one body.

#include <string>
#include <string_view>

#include "lt/bus/bus.hpp"
#include "lt/http/router.hpp"

namespace lt::http {

/// "<owner>.http.v1".
std::string http_command(std::string_view owner);

/// Registers the "<owner>.http.v1" handler that runs `owner`'s routes of `router`. `router` must
/// outlive the bus.
void serve_routes_over_bus(bus::Bus& bus, const Router& router, std::string owner);

}  // namespace lt::http
