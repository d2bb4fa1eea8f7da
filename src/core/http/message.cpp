#include "lt/http/message.hpp"

#include <boost/beast/http/status.hpp>
#include <boost/json.hpp>

#include "lt/core/json.hpp"

namespace lt::http {

namespace {
bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string url_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            int h = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
            int l = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
            if (h >= 0 && l >= 0) {
                out.push_back(static_cast<char>(h * 16 + l));
                i += 2;
                continue;
            }
        }
        out.push_back(plus_is_space && c == '+' ? ' ' : c);
    }
    return out;
}
}  // namespace

std::string decode_component(std::string_view s, bool plus_is_space) { return url_decode(s, plus_is_space); }

std::string_view find_header(const std::vector<Header>& headers, std::string_view name) {
    for (const auto& h : headers) {
        if (iequals(h.name, name)) return h.value;
    }
    return {};
}

std::optional<std::string> Request::query_param(std::string_view name) const {
    std::string_view q = query;
    while (!q.empty()) {
        auto amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        auto eq = pair.find('=');
        std::string key = url_decode(pair.substr(0, eq), true);
        if (key == name) {
            return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1), true);
        }
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

std::string_view Request::path_param(std::string_view name) const {
    for (const auto& [k, v] : path_params) {
        if (k == name) return v;
    }
    return {};
}

void Response::set_header(std::string name, std::string value) {
    for (auto& h : headers) {
        if (iequals(h.name, name)) {
            h.value = std::move(value);
            return;
        }
    }
    headers.push_back({std::move(name), std::move(value)});
}

Response Response::json(int status, const json::value& body) {
    Response r;
    r.status = status;
    r.body = to_json_text(body);  // doubles as `50.0`, not Boost's `5E1`
    r.headers.push_back({"Content-Type", "application/json"});
    return r;
}

Response Response::empty(int status) {
    Response r;
    r.status = status;
    return r;
}

std::string_view reason_phrase(int status) {
    auto sv = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
    return {sv.data(), sv.size()};
}

namespace {
json::array headers_to_json(const std::vector<Header>& headers) {
    json::array a;
    a.reserve(headers.size());
    for (const auto& h : headers) a.push_back(json::array{json::string(h.name), json::string(h.value)});
    return a;
}
std::vector<Header> headers_from_json(const json::value* v) {
    std::vector<Header> out;
    if (!v || !v->is_array()) return out;
    for (const auto& e : v->as_array()) {
        if (e.is_array() && e.as_array().size() == 2 && e.as_array()[0].is_string() && e.as_array()[1].is_string()) {
            out.push_back({std::string(e.as_array()[0].as_string()), std::string(e.as_array()[1].as_string())});
        }
    }
    return out;
}
std::string str(const json::object& o, std::string_view k) {
    auto* v = o.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
}  // namespace

json::value to_json(const Request& r) {
    json::object params;
    for (const auto& [k, v] : r.path_params) params[k] = v;
    return json::object{{"method", r.method},   {"target", r.target},          {"path", r.path},
                        {"query", r.query},     {"headers", headers_to_json(r.headers)},
                        {"body", r.body},       {"remoteIp", r.remote_ip},     {"route", r.route},
                        {"params", std::move(params)}, {"ctx", bus::to_json(r.ctx)}};
}

Result<Request> request_from_json(const json::value& v) {
    if (!v.is_object()) return fail(Errc::invalid_argument, "request must be an object");
    const auto& o = v.as_object();
    Request r;
    r.method = str(o, "method");
    r.target = str(o, "target");
    r.path = str(o, "path");
    r.query = str(o, "query");
    r.headers = headers_from_json(o.if_contains("headers"));
    r.body = str(o, "body");
    r.remote_ip = str(o, "remoteIp");
    r.route = str(o, "route");
    if (auto* p = o.if_contains("params"); p && p->is_object()) {
        for (const auto& kv : p->as_object()) {
            if (kv.value().is_string()) r.path_params.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
        }
    }
    if (auto* c = o.if_contains("ctx")) r.ctx = bus::context_from_json(*c);
    return r;
}

json::value to_json(const Response& r) {
    return json::object{{"status", r.status}, {"headers", headers_to_json(r.headers)}, {"body", r.body}};
}

Result<Response> response_from_json(const json::value& v) {
    if (!v.is_object()) return fail(Errc::internal, "response must be an object");
    const auto& o = v.as_object();
    Response r;
    auto* s = o.if_contains("status");
    if (!s || !s->is_int64()) return fail(Errc::internal, "response without status");
    r.status = static_cast<int>(s->as_int64());
    r.headers = headers_from_json(o.if_contains("headers"));
    r.body = str(o, "body");
    return r;
}

}  // namespace lt::http
