#pragma once
/// The one place where errors become HTTP statuses and JSON error bodies.

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

}  // namespace lt::http
