#include "lt/core/json.hpp"

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

std::string to_json_text(const json::value& v) { return json::serialize(v); }

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
