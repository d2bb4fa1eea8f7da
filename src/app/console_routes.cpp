#include "console_routes.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lt/http/errors.hpp"

namespace lt::embedded {
std::vector<std::pair<std::string_view, std::string_view>> console_files();
}  // namespace lt::embedded

namespace lt::app {

namespace {

/// Same-origin only: no inline script or style, no CDN, nothing framed; the API is the only
/// connection the page makes.
constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::string_view content_type(std::string_view path) {
    auto ends = [&](std::string_view ext) { return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext; };
    if (ends(".html")) return "text/html; charset=utf-8";
    if (ends(".js")) return "text/javascript; charset=utf-8";
    if (ends(".css")) return "text/css; charset=utf-8";
    if (ends(".svg")) return "image/svg+xml";
    if (ends(".png")) return "image/png";
    return "application/octet-stream";
}

const std::string_view* find_file(std::string_view path) {
    static const auto files = embedded::console_files();
    for (const auto& [name, content] : files) {
        if (name == path) return &content;
    }
    return nullptr;
}

http::Response serve_file(std::string_view name, std::string_view request_path) {
    const auto* body = find_file(name);
    if (!body) {
        auto r = http::error_response(404, "not found", request_path);
        r.set_header("Content-Security-Policy", kCsp);
        return r;
    }
    http::Response r;
    r.status = 200;
    r.body = std::string(*body);
    r.set_header("Content-Type", std::string(content_type(name)));
    r.set_header("Content-Security-Policy", kCsp);
    // Asset names carry a content hash; index.html names the current ones.
    r.set_header("Cache-Control", name == "index.html" ? "no-cache" : "public, max-age=31536000, immutable");
    return r;
}

boost::asio::awaitable<http::Response> index_page(http::Request req) {
    co_return serve_file("index.html", req.path);
}

boost::asio::awaitable<http::Response> asset(http::Request req) {
    std::string file;
    for (const auto& [k, v] : req.path_params) {
        if (k == "file") file = v;
    }
    co_return serve_file("assets/" + file, req.path);
}

}  // namespace

void register_console_routes(http::Router& router) {
    // Static files: the console signs in through the auth routes, so its files need no credentials.
    const http::RouteOptions kConsole{http::Access::anonymous, "console"};
    router.add("kernel", "GET", "/admin", index_page, kConsole);
    // Any page under /admin/ is the single-page console (its views are not separate files).
    router.add("kernel", "GET", "/admin/{page}", index_page, kConsole);
    router.add("kernel", "GET", "/admin/assets/{file}", asset, kConsole);
}

}  // namespace lt::app
