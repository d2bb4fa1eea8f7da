#pragma once
/// Query-string parameters of the analytics endpoints: typed parsing with client-safe errors and the
/// clamp rule of the original (seed-behavior.md §4.7). Pure; any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lt/core/result.hpp"
#include "lt/http/message.hpp"

namespace lt::analytics {

/// Integer parameter `name`: nullopt when absent or empty; invalid_argument "<name> must be an
/// integer" when it is anything but an optionally signed decimal integer that fits 64 bits.
Result<std::optional<std::int64_t>> int_param(const http::Request& req, std::string_view name);

/// Number parameter `name` (decimal or exponent form, finite): nullopt when absent or empty;
/// invalid_argument "<name> must be a number" otherwise.
Result<std::optional<double>> number_param(const http::Request& req, std::string_view name);

/// The original clamp: missing or <= 0 → `fallback`, else min(v, max).
std::int64_t clamp_param(std::optional<std::int64_t> v, std::int64_t fallback, std::int64_t max);

/// `provider`, trimmed and lower-cased: invalid_argument "provider is required" when absent or blank.
/// (Whether it is a known provider is checked after the other parameters.)
Result<std::string> provider_param(const http::Request& req);

}  // namespace lt::analytics
