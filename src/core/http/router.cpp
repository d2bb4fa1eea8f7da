#include "lt/http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace lt::http {

namespace {
std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < path.size()) {
        if (path[i] == '/') {
            ++i;
            continue;
        }
        auto j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        out.emplace_back(path.substr(i, j - i));
        i = j;
    }
    return out;
}

bool is_param(const std::string& seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }
}  // namespace

void Router::insert(Route route) {
    const auto& path = route.path;
    if (path.empty() || path.front() != '/') throw std::invalid_argument("route must start with '/': " + path);
    if (find(route.method, path)) throw std::invalid_argument("duplicate route: " + route.method + " " + path);
    Compiled c{split_path(path), {}};
    for (const auto& s : c.segments) {
        if (s.find('{') != std::string::npos && !is_param(s)) throw std::invalid_argument("bad route segment: " + path);
        c.is_param.push_back(is_param(s));
    }
    route.catch_all = !c.segments.empty() && std::find(c.is_param.begin(), c.is_param.end(), false) == c.is_param.end();
    if (route.route_id.empty()) route.route_id = route.owner;
    routes_.push_back(std::move(route));
    compiled_.push_back(std::move(c));
}

void Router::declare(std::string_view owner, std::span<const RouteSpec> routes) {
    for (const auto& spec : routes) {
        Route r;
        r.owner = std::string(owner);
        r.method = std::string(spec.method);
        r.path = std::string(spec.path);
        r.access = spec.access;
        r.route_id = std::string(spec.route_id);
        r.declared = true;
        insert(std::move(r));
    }
}

void Router::add(std::string owner, std::string method, std::string path, Handler handler, RouteOptions options) {
    for (auto& r : routes_) {
        if (r.method != method || r.path != path || !r.declared) continue;
        if (r.owner != owner) {
            throw std::invalid_argument("route " + method + " " + path + " is declared by module " + r.owner +
                                        ", not " + owner);
        }
        if (r.handler) throw std::invalid_argument("duplicate route: " + method + " " + path);
        r.handler = std::move(handler);
        return;
    }
    Route r;
    r.owner = std::move(owner);
    r.method = std::move(method);
    r.path = std::move(path);
    r.handler = std::move(handler);
    r.access = options.access;
    r.route_id = std::move(options.route_id);
    insert(std::move(r));
}

std::string Router::verify(const std::vector<std::string>& hosted) const {
    for (const auto& r : routes_) {
        const bool host = std::find(hosted.begin(), hosted.end(), r.owner) != hosted.end();
        if (r.owner != "kernel" && !r.declared) {
            return "route " + r.method + " " + r.path + " of module " + r.owner + " is not declared in its contract";
        }
        if (host && r.declared && !r.handler) {
            return "module " + r.owner + " declares " + r.method + " " + r.path + " but registers no handler for it";
        }
    }
    return {};
}

const Route* Router::find(std::string_view method, std::string_view path_template) const {
    for (const auto& r : routes_) {
        if (r.method == method && r.path == path_template) return &r;
    }
    return nullptr;
}

Match Router::match(std::string_view method, std::string_view path) const {
    Match m;
    // Split without allocating: compare segment views against the compiled templates.
    std::vector<std::string_view> segs;
    segs.reserve(8);
    std::size_t i = 0;
    while (i < path.size()) {
        if (path[i] == '/') {
            ++i;
            continue;
        }
        auto j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        segs.push_back(path.substr(i, j - i));
        i = j;
    }
    auto fits = [&](const Compiled& c) {
        if (c.segments.size() != segs.size()) return false;
        for (std::size_t s = 0; s < segs.size(); ++s) {
            if (c.is_param[s] ? segs[s].empty() : c.segments[s] != segs[s]) return false;
        }
        return true;
    };
    // The most specific template owns the path: at the first segment where two fitting templates
    // differ, a literal beats a parameter (so /oauth2/token wins over /{application}/{profile}).
    const Compiled* best = nullptr;
    for (const auto& c : compiled_) {
        if (!fits(c)) continue;
        if (!best) {
            best = &c;
            continue;
        }
        for (std::size_t s = 0; s < segs.size(); ++s) {
            if (c.is_param[s] != best->is_param[s]) {
                if (!c.is_param[s]) best = &c;
                break;
            }
        }
    }
    if (!best) return m;
    std::string_view want = method == "HEAD" ? std::string_view("GET") : method;
    for (std::size_t r = 0; r < routes_.size(); ++r) {
        const auto& c = compiled_[r];
        if (c.is_param != best->is_param || !fits(c)) continue;
        if (routes_[r].method == want) {
            m.kind = MatchKind::found;
            m.route = &routes_[r];
            m.params.clear();
            for (std::size_t s = 0; s < c.segments.size(); ++s) {
                if (c.is_param[s]) m.params.emplace_back(c.segments[s].substr(1, c.segments[s].size() - 2), std::string(segs[s]));
            }
            m.allow.clear();
            return m;
        }
        if (m.allow.find(routes_[r].method) == std::string::npos) {
            if (!m.allow.empty()) m.allow += ", ";
            m.allow += routes_[r].method;
        }
        m.kind = MatchKind::method_not_allowed;
    }
    // A template made only of parameters is a catch-all: a path nobody else owns stays unknown (404)
    // for the methods it does not serve.
    if (std::find(best->is_param.begin(), best->is_param.end(), false) == best->is_param.end()) {
        m.kind = MatchKind::not_found;
        m.allow.clear();
        return m;
    }
    if (m.kind == MatchKind::method_not_allowed && m.allow.find("OPTIONS") == std::string::npos) m.allow += ", OPTIONS";
    return m;
}

}  // namespace lt::http
