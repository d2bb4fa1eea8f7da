#pragma once
/// The one place where errors become HTTP statuses and JSON error bodies.

#include <optional>
#include <string_view>

#include <boost/json/object.hpp>

#include "lt/core/result.hpp"
#include "lt/http/message.hpp"

namespace lt::http {

/// HTTP status of an error category.
int status_of(Errc code);

/// Error body {"message","timestamp","status","error","path"} (CONTRACT.md item 1) as a Response.
/// `extra` fields (e.g. the consume 429's bucket state) are merged in first.
Response error_response(int status, std::string_view message, std::string_view path,
                        boost::json::object extra = {});

/// error_response(status_of(e.code), e.message, path).
Response error_response(const Error& e, std::string_view path);

struct Match;

/// The 404 (unknown path) or 405 (known path, other method, with `Allow`) for a route match that
/// found nothing, with its metrics route ("NOT_FOUND" / "METHOD_NOT_ALLOWED"); nullopt when found.
std::optional<Response> routing_error(const Match& match, std::string_view path);

/// OpenAI's error shape (CONTRACT.md item 38): {"error": {"message", "type", "param", "code"}}.
/// Empty `param` / `code` are written as null; `type` defaults from the status (see to_openai_error).
Response openai_error(int status, std::string_view message, std::string_view code = {}, std::string_view type = {},
                      std::string_view param = {});

/// Rewrites an error Response with the item-1 body into OpenAI's shape, keeping status and headers
/// (for paths under /v1/). Bodies already in OpenAI's shape and non-errors are left alone.
void to_openai_error(Response& res);

}  // namespace lt::http
