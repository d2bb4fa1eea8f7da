#include "lt/core/json.hpp"

#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace lt {

namespace {

/// A SAX handler that only tracks object keys, failing on the first key repeated in one object.
/// Boost.JSON's value builder keeps the last of duplicate keys silently (issue 15: a purchase with
/// "tokens":1,"tokens":2000000000), so every client body is checked by this pass first.
struct DuplicateKeyHandler {
    static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);

    std::vector<std::vector<std::string>> objects;  ///< keys of each open object (innermost last)
    std::string key;                                ///< the key being assembled from parts
    bool duplicate = false;
    bool out_of_range = false;  ///< a number beyond double's range (Boost.JSON would make it ±inf)

    using ec_t = boost::system::error_code;
    bool on_document_begin(ec_t&) { return true; }
    bool on_document_end(ec_t&) { return true; }
    bool on_array_begin(ec_t&) { return true; }
    bool on_array_end(std::size_t, ec_t&) { return true; }
    bool on_object_begin(ec_t&) {
        objects.emplace_back();
        return true;
    }
    bool on_object_end(std::size_t, ec_t&) {
        objects.pop_back();
        return true;
    }
    bool on_string_part(json::string_view, std::size_t, ec_t&) { return true; }
    bool on_string(json::string_view, std::size_t, ec_t&) { return true; }
    bool on_key_part(json::string_view s, std::size_t, ec_t&) {
        key.append(s.data(), s.size());
        return true;
    }
    bool on_key(json::string_view s, std::size_t, ec_t& ec) {
        key.append(s.data(), s.size());
        auto& keys = objects.back();
        for (const auto& k : keys) {
            if (k == key) {
                duplicate = true;
                ec = json::error::syntax;
                return false;
            }
        }
        keys.push_back(std::move(key));
        key.clear();
        return true;
    }
    bool on_number_part(json::string_view, ec_t&) { return true; }
    bool on_int64(std::int64_t, json::string_view, ec_t&) { return true; }
    bool on_uint64(std::uint64_t, json::string_view, ec_t&) { return true; }
    bool on_double(double d, json::string_view, ec_t& ec) {
        if (std::isfinite(d)) return true;
        out_of_range = true;
        ec = json::error::syntax;
        return false;
    }
    bool on_bool(bool, ec_t&) { return true; }
    bool on_null(ec_t&) { return true; }
    bool on_comment_part(json::string_view, ec_t&) { return true; }
    bool on_comment(json::string_view, ec_t&) { return true; }
};

/// The first problem of the (already well-formed) document `text` that Boost.JSON lets through: a
/// repeated key in an object, or a number out of double's range (found by the fuzzer: "1.5e309"
/// became infinity, which serializes as 1e99999). Empty when none.
std::string_view ambiguity(std::string_view text, const json::parse_options& opts) {
    json::basic_parser<DuplicateKeyHandler> p(opts);
    boost::system::error_code ec;
    p.write_some(false, text.data(), text.size(), ec);
    if (p.handler().duplicate) return "duplicate key in JSON object";
    if (p.handler().out_of_range) return "number out of range in JSON body";
    return {};
}

}  // namespace

Result<json::value> parse_json(std::string_view text) {
    json::parse_options opts;
    opts.max_depth = kMaxJsonDepth;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec, json::storage_ptr(), opts);
    if (ec == json::error::too_deep) {
        return fail(Errc::invalid_argument, "JSON nested deeper than 64 levels");
    }
    if (ec) return fail(Errc::invalid_argument, "malformed JSON body");
    if (auto problem = ambiguity(text, opts); !problem.empty()) return fail(Errc::invalid_argument, std::string(problem));
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

namespace lt {

std::string valid_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
            ++i;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
        bool good = len != 0 && i + len <= n;
        for (std::size_t k = 1; good && k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) good = false;
            else cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 either.
        if (good && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
                     (cp >= 0xD800 && cp <= 0xDFFF))) {
            good = false;
        }
        if (!good) {
            out += "\xEF\xBF\xBD";  // U+FFFD for the one offending byte; resynchronise on the next
            ++i;
            continue;
        }
        out.append(text.substr(i, len));
        i += len;
    }
    return out;
}

}  // namespace lt
