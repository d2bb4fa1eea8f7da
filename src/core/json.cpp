#include "lt/core/json.hpp"

#include <charconv>
#include <cmath>

#include <boost/json/error.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace lt {

Result<json::value> parse_json(std::string_view text) {
    json::parse_options opts;
    opts.max_depth = kMaxJsonDepth;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec, json::storage_ptr(), opts);
    if (ec == json::error::too_deep) {
        return fail(Errc::invalid_argument, "JSON nested deeper than 64 levels");
    }
    if (ec) return fail(Errc::invalid_argument, "malformed JSON body");
    return v;
}

Result<json::object> parse_json_object(std::string_view text) {
    auto v = parse_json(text);
    if (!v) return fail(v.error());
    if (!v->is_object()) return fail(Errc::invalid_argument, "request body must be a JSON object");
    return std::move(v->as_object());
}

namespace {
bool has_double(const json::value& v) {
    switch (v.kind()) {
    case json::kind::double_:
        return true;
    case json::kind::array:
        for (const auto& e : v.get_array()) {
            if (has_double(e)) return true;
        }
        return false;
    case json::kind::object:
        for (const auto& e : v.get_object()) {
            if (has_double(e.value())) return true;
        }
        return false;
    default:
        return false;
    }
}

/// Shortest text that reads back as `d`, as Java and Jackson print it: 50.0, 0.0, 0.25, 1.0E21.
void write_double(std::string& out, double d) {
    if (!std::isfinite(d)) {
        out += "null";  // JSON has no NaN or infinity
        return;
    }
    char buf[64];
    const auto fixed_ok = std::fabs(d) < 1e7 && (d == 0 || std::fabs(d) >= 1e-3);
    auto r = fixed_ok ? std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed)
                      : std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    const std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
    if (fixed_ok) {
        out += text;
        if (text.find('.') == std::string_view::npos) out += ".0";
        return;
    }
    // "1e+07" → "1.0E7", "1.5e-04" → "1.5E-4"
    const auto e = text.find('e');
    const auto mantissa = text.substr(0, e);
    out += mantissa;
    if (mantissa.find('.') == std::string_view::npos) out += ".0";
    out += 'E';
    auto exponent = text.substr(e + 1);
    if (!exponent.empty() && exponent.front() == '-') out += '-';
    if (!exponent.empty() && (exponent.front() == '-' || exponent.front() == '+')) exponent.remove_prefix(1);
    while (exponent.size() > 1 && exponent.front() == '0') exponent.remove_prefix(1);
    out += exponent;
}

void write(std::string& out, const json::value& v) {
    switch (v.kind()) {
    case json::kind::double_:
        write_double(out, v.get_double());
        return;
    case json::kind::array: {
        out += '[';
        bool first = true;
        for (const auto& e : v.get_array()) {
            if (!first) out += ',';
            first = false;
            write(out, e);
        }
        out += ']';
        return;
    }
    case json::kind::object: {
        out += '{';
        bool first = true;
        for (const auto& e : v.get_object()) {
            if (!first) out += ',';
            first = false;
            out += json::serialize(json::string_view(e.key()));
            out += ':';
            write(out, e.value());
        }
        out += '}';
        return;
    }
    default:
        out += json::serialize(v);
    }
}
}  // namespace

// Declared in lt/core/json.hpp ("Serializes compactly"): doubles as Java prints them (`50.0`, `0.0`,
// `1.0E21`), not Boost's `5E1`. Any thread.
std::string to_json_text(const json::value& v) {
    if (!has_double(v)) return json::serialize(v);
    std::string out;
    write(out, v);
    return out;
}

std::optional<std::string> get_string(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string()) return std::nullopt;
    return std::string(it->value().as_string());
}

std::optional<std::int64_t> get_int(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end()) return std::nullopt;
    const auto& v = it->value();
    if (v.is_int64()) return v.as_int64();
    if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(v.as_uint64());
    }
    return std::nullopt;
}

}  // namespace lt
