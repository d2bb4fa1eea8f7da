#pragma once
/// Router: method + path template ("/api/v1/tokens/purchase/{sagaId}") → owning module and handler.
/// Routes are added before start (single-threaded); matching is read-only and thread-safe after.

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lt/http/message.hpp"
#include "lt/http/route_spec.hpp"

namespace lt::http {

struct Route {
    std::string owner;     ///< module name, e.g. "token"; "kernel" for /actuator/**
    std::string method;    ///< upper-case method
    std::string path;      ///< template
    Handler handler;       ///< empty for a declared route of a module this process does not host
    Access access = Access::required;
    std::string route_id;  ///< the original gateway's route id; the owner's name when none is declared
    bool declared = false; ///< came from a module contract's declaration (Router::declare)
    bool catch_all = false;///< the template is made only of parameters ("/{application}/{profile}")
};

/// Options of a route added without a contract declaration (the kernel's own routes, tests).
struct RouteOptions {
    Access access = Access::required;
    std::string route_id;  ///< empty: the owner's name
};

enum class MatchKind { found, not_found, method_not_allowed };

struct Match {
    MatchKind kind = MatchKind::not_found;
    const Route* route = nullptr;                                  ///< when found
    std::vector<std::pair<std::string, std::string>> params;      ///< when found
    std::string allow;                                             ///< "GET, POST" when method_not_allowed
};

class Router {
public:
    /// Declares a module's routes from its contract, without handlers (start-up only). The gateway
    /// proxies a declared route of a module hosted elsewhere; a hosted module binds its handlers with add().
    /// Throws std::invalid_argument on a malformed or duplicate template.
    void declare(std::string_view owner, std::span<const RouteSpec> routes);

    /// Binds `handler` to the route `owner` declared with this method and template; a route nobody
    /// declared is added with `options`. Throws std::invalid_argument on a malformed or duplicate template,
    /// a second handler, or a declared route of another owner (start-up only).
    void add(std::string owner, std::string method, std::string path, Handler handler, RouteOptions options = {});

    /// Start-up check of a process hosting `hosted`: every route a hosted module declared has its handler,
    /// and no module route lacks a declaration. Returns the first problem, or an empty string.
    std::string verify(const std::vector<std::string>& hosted) const;

    /// Finds the route for a decoded path. HEAD matches GET routes. When several templates fit, the
    /// most specific owns the path (a literal segment beats a parameter at the first difference), so
    /// a module's catch-all (/{application}/{profile}) never shadows another's literal route; 405
    /// comes from the owning template only, and never from an all-parameter template (404 instead).
    Match match(std::string_view method, std::string_view path) const;

    /// The route with exactly this method and template, or nullptr.
    const Route* find(std::string_view method, std::string_view path_template) const;

    const std::vector<Route>& routes() const { return routes_; }

private:
    void insert(Route route);

    struct Compiled {
        std::vector<std::string> segments;  ///< literal, or "{name}"
        std::vector<bool> is_param;         ///< per segment: true for "{name}"
    };
    std::vector<Route> routes_;
    std::vector<Compiled> compiled_;
};

}  // namespace lt::http
