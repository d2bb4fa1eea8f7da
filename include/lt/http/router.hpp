#pragma once
/// Router: method + path template ("/api/v1/tokens/purchase/{sagaId}") → owning module and handler.
/// Routes are added before start (single-threaded); matching is read-only and thread-safe after.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lt/http/message.hpp"

namespace lt::http {

struct Route {
    std::string owner;     ///< module name, e.g. "token"; "kernel" for /actuator/**
    std::string method;    ///< upper-case method
    std::string path;      ///< template
    Handler handler;
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
    /// Adds a route. Throws std::invalid_argument on a malformed or duplicate template (start-up only).
    void add(std::string owner, std::string method, std::string path, Handler handler);

    /// Finds the route for a decoded path. HEAD matches GET routes. When several templates fit, the
    /// most specific owns the path (a literal segment beats a parameter at the first difference), so
    /// a module's catch-all (/{application}/{profile}) never shadows another's literal route; 405
    /// comes from the owning template only, and never from an all-parameter template (404 instead).
    Match match(std::string_view method, std::string_view path) const;

    /// The route with exactly this method and template, or nullptr.
    const Route* find(std::string_view method, std::string_view path_template) const;

    const std::vector<Route>& routes() const { return routes_; }

private:
    struct Compiled {
        std::vector<std::string> segments;  ///< literal, or "{name}"
        std::vector<bool> is_param;         ///< per segment: true for "{name}"
    };
    std::vector<Route> routes_;
    std::vector<Compiled> compiled_;
};

}  // namespace lt::http
