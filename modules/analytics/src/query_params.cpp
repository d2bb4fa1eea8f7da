#include "query_params.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "lt/core/time.hpp"

namespace lt::analytics {

namespace {
/// The trimmed value of `name`, or nullopt when absent or blank.
std::optional<std::string> raw_param(const http::Request& req, std::string_view name) {
    auto v = req.query_param(name);
    if (!v) return std::nullopt;
    auto t = trim(*v);
    if (t.empty()) return std::nullopt;
    return t;
}
}  // namespace

Result<std::optional<std::int64_t>> int_param(const http::Request& req, std::string_view name) {
    auto text = raw_param(req, name);
    if (!text) return std::optional<std::int64_t>();
    std::string_view s = *text;
    if (s.size() > 1 && s.front() == '+' && s[1] != '-') s.remove_prefix(1);
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) {
        return fail(Errc::invalid_argument, std::string(name) + " must be an integer");
    }
    return std::optional<std::int64_t>(v);
}

Result<std::optional<double>> number_param(const http::Request& req, std::string_view name) {
    auto text = raw_param(req, name);
    if (!text) return std::optional<double>();
    std::string_view s = *text;
    if (s.size() > 1 && s.front() == '+' && s[1] != '-') s.remove_prefix(1);
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) {
        return fail(Errc::invalid_argument, std::string(name) + " must be a number");
    }
    return std::optional<double>(v);
}

std::int64_t clamp_param(std::optional<std::int64_t> v, std::int64_t fallback, std::int64_t max) {
    if (!v || *v <= 0) return fallback;
    return std::min(*v, max);
}

Result<std::string> provider_param(const http::Request& req) {
    auto p = raw_param(req, "provider");
    if (!p) return fail(Errc::invalid_argument, "provider is required");
    return to_lower(*p);
}

}  // namespace lt::analytics
