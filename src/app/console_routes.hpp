#pragma once
/// The admin web console at /admin: the vite build of console/ compiled into the binary, served by
/// the kernel (no authentication for the static files; the console signs in over the public API).

#include "lt/http/router.hpp"

namespace lt::app {

/// Adds GET /admin, /admin/{page} and /admin/assets/{file}. Start-up only.
void register_console_routes(http::Router& router);

}  // namespace lt::app
