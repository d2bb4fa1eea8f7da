#include "lt/http/errors.hpp"

#include <chrono>

#include <boost/json.hpp>

#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "lt/http/router.hpp"

namespace lt::http {

int status_of(Errc code) {
    switch (code) {
        case Errc::invalid_argument: return 400;
        case Errc::unauthenticated: return 401;
        case Errc::payment_required: return 402;
        case Errc::forbidden: return 403;
        case Errc::not_found: return 404;
        case Errc::conflict: return 409;
        case Errc::payload_too_large: return 413;
        case Errc::rate_limited: return 429;
        case Errc::internal: return 500;
        case Errc::bad_gateway: return 502;
        case Errc::unavailable: return 503;
        case Errc::timeout: return 504;
    }
    return 500;
}

Response error_response(int status, std::string_view message, std::string_view path, boost::json::object extra) {
    // Paths and messages may echo percent-decoded client bytes: the body must stay valid UTF-8 JSON.
    extra["message"] = valid_utf8(message);
    extra["timestamp"] = format_rfc3339(std::chrono::system_clock::now());
    extra["status"] = status;
    extra["error"] = reason_phrase(status);
    extra["path"] = valid_utf8(path);
    return Response::json(status, extra);
}

std::optional<Response> routing_error(const Match& match, std::string_view path) {
    if (match.kind == MatchKind::not_found) {
        auto res = error_response(404, "not found", path);
        res.route = "NOT_FOUND";
        return res;
    }
    if (match.kind == MatchKind::method_not_allowed) {
        auto res = error_response(405, "method not allowed", path);
        res.set_header("Allow", match.allow);
        res.route = "METHOD_NOT_ALLOWED";
        return res;
    }
    return std::nullopt;
}

Response error_response(const Error& e, std::string_view path) {
    return error_response(status_of(e.code), e.message, path);
}

namespace {
std::string_view openai_type(int status) {
    switch (status) {
        case 401: return "authentication_error";
        case 402: return "insufficient_quota";
        case 403: return "permission_error";
        case 404: return "invalid_request_error";
        case 429: return "rate_limit_exceeded";
        default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

std::string_view openai_code(int status) {
    switch (status) {
        case 401: return "invalid_api_key";
        case 402: return "insufficient_quota";
        case 403: return "forbidden";
        case 404: return "not_found";
        case 405: return "method_not_allowed";
        case 413: return "request_too_large";
        case 429: return "rate_limit_exceeded";
        case 503: return "service_unavailable";
        default: return {};
    }
}
}  // namespace

Response openai_error(int status, std::string_view message, std::string_view code, std::string_view type,
                      std::string_view param) {
    boost::json::object err{{"message", message},
                            {"type", type.empty() ? openai_type(status) : type},
                            {"param", param.empty() ? boost::json::value(nullptr) : boost::json::value(param)},
                            {"code", code.empty() ? boost::json::value(nullptr) : boost::json::value(code)}};
    return Response::json(status, boost::json::object{{"error", std::move(err)}});
}

void to_openai_error(Response& res) {
    if (res.status < 400 || res.stream) return;
    boost::system::error_code ec;
    auto v = boost::json::parse(res.body, ec);
    std::string message = reason_phrase(res.status).empty() ? "error" : std::string(reason_phrase(res.status));
    if (!ec && v.is_object()) {
        const auto& o = v.as_object();
        if (auto* e = o.if_contains("error"); e && e->is_object()) return;  // already OpenAI's shape
        if (auto* m = o.if_contains("message"); m && m->is_string()) message = std::string(m->as_string());
    }
    auto converted = openai_error(res.status, message, openai_code(res.status));
    res.body = std::move(converted.body);
    res.set_header("Content-Type", "application/json");
}

}  // namespace lt::http
