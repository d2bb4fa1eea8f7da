#pragma once
/// Timestamps, identifiers and small text helpers shared by every module.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace lt {

/// RFC 3339 UTC with millisecond precision and a trailing `Z`: "2026-02-05T10:35:00.123Z".
std::string format_rfc3339(std::chrono::system_clock::time_point tp);
/// Parses RFC 3339 / ISO-8601 instants ending in `Z` or an offset, with 0-9 fractional digits.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

/// A random (version 4) UUID in lower-case canonical form. Thread-safe.
std::string new_uuid();
/// True for canonical 8-4-4-4-12 hex (either case).
bool is_uuid(std::string_view text);
/// Lower-cases a canonical UUID; nullopt when `text` is not one.
std::optional<std::string> normalize_uuid(std::string_view text);

/// Parses a duration: `500ms`, `3s`, `10m`, `24h`, `2d`; a bare integer means seconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// ASCII upper-case copy.
std::string to_upper(std::string_view text);
/// ASCII lower-case copy.
std::string to_lower(std::string_view text);
/// Copy without leading and trailing ASCII whitespace.
std::string trim(std::string_view text);
/// Compares two strings in time that depends only on their lengths.
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace lt
