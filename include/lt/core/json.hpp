#pragma once
/// JSON helpers over Boost.JSON: bounded parsing and typed field access for request bodies.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "lt/core/result.hpp"

namespace lt {

namespace json = boost::json;

/// Maximum nesting depth accepted from clients (CONTRACT.md item 3).
inline constexpr std::size_t kMaxJsonDepth = 64;

/// Parses `text`; malformed JSON, nesting deeper than kMaxJsonDepth, an object that repeats a key
/// (issue 15: the last one would win silently) or a number beyond double's range (it would become
/// infinity) → Errc::invalid_argument with a client-safe message.
/// Any thread.
Result<json::value> parse_json(std::string_view text);

/// Parses a body that must be a JSON object (400 "request body must be a JSON object" otherwise).
Result<json::object> parse_json_object(std::string_view text);

/// `text` with every byte that does not start or continue a well-formed UTF-8 sequence (RFC 3629: no
/// overlong forms, surrogates or code points past U+10FFFF) replaced by U+FFFD. For client-supplied
/// text echoed in JSON (paths, messages): Boost.JSON serializes bytes as they are. Any thread.
std::string valid_utf8(std::string_view text);

/// Serializes compactly.
std::string to_json_text(const json::value& v);

/// The string at `key`, or nullopt when absent, null or not a string.
std::optional<std::string> get_string(const json::object& o, std::string_view key);
/// The integer at `key` (int64 or uint64 fitting int64); nullopt when absent/null/not an integer.
std::optional<std::int64_t> get_int(const json::object& o, std::string_view key);

}  // namespace lt
