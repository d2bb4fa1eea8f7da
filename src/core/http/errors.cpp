#include "lt/http/errors.hpp"

#include <chrono>

#include <boost/json.hpp>

#include "lt/core/time.hpp"

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
    extra["message"] = message;
    extra["timestamp"] = format_rfc3339(std::chrono::system_clock::now());
    extra["status"] = status;
    extra["error"] = reason_phrase(status);
    extra["path"] = path;
    return Response::json(status, extra);
}

Response error_response(const Error& e, std::string_view path) {
    return error_response(status_of(e.code), e.message, path);
}

}  // namespace lt::http
