#pragma once
/// Helpers for writing a DTO's codec (Boost.JSON tag_invoke value_from / value_to). Decoders throw
/// CodecError with a reason naming the field ("userId is missing", "tokens is not an integer"); the
/// bus turns it into Errc::invalid_argument (lt/bus/payload.hpp, decode()). Pure; any thread.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

namespace lt::bus::codec {

namespace json = boost::json;

/// A message that does not fit its DTO; what() is the reason.
struct CodecError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

/// `v` as an object; `what` names it in the error ("verified key is not an object").
inline const json::object& object_of(const json::value& v, std::string_view what) {
    const auto* o = v.if_object();
    if (o == nullptr) throw CodecError(std::string(what) + " is not an object");
    return *o;
}

/// Field `key` of `o`, or nullptr when absent or null.
inline const json::value* field(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v == nullptr || v->is_null() ? nullptr : v;
}

namespace detail {
// Declared first so that the container readers find each other and the DTO reader.
template <class T>
std::vector<T> read(const json::value& v, std::string_view key, std::vector<T>*);
template <class T>
std::map<std::string, T> read(const json::value& v, std::string_view key, std::map<std::string, T>*);
template <class T>
T read(const json::value& v, std::string_view key, T*);

inline std::string read(const json::value& v, std::string_view key, std::string*) {
    if (!v.is_string()) throw CodecError(std::string(key) + " is not a string");
    return std::string(v.as_string());
}
inline std::int64_t read(const json::value& v, std::string_view key, std::int64_t*) {
    if (v.is_int64()) return v.as_int64();
    if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v.as_uint64());
    throw CodecError(std::string(key) + " is not an integer");
}
inline int read(const json::value& v, std::string_view key, int*) {
    auto n = read(v, key, static_cast<std::int64_t*>(nullptr));
    if (n < INT32_MIN || n > INT32_MAX) throw CodecError(std::string(key) + " is out of range");
    return static_cast<int>(n);
}
inline bool read(const json::value& v, std::string_view key, bool*) {
    if (!v.is_bool()) throw CodecError(std::string(key) + " is not a boolean");
    return v.as_bool();
}
inline double read(const json::value& v, std::string_view key, double*) {
    if (v.is_double()) return v.as_double();
    if (v.is_int64()) return static_cast<double>(v.as_int64());
    if (v.is_uint64()) return static_cast<double>(v.as_uint64());
    throw CodecError(std::string(key) + " is not a number");
}
inline json::object read(const json::value& v, std::string_view key, json::object*) {
    if (!v.is_object()) throw CodecError(std::string(key) + " is not an object");
    return v.as_object();
}
inline json::array read(const json::value& v, std::string_view key, json::array*) {
    if (!v.is_array()) throw CodecError(std::string(key) + " is not an array");
    return v.as_array();
}
inline json::value read(const json::value& v, std::string_view, json::value*) { return v; }
template <class T>
std::vector<T> read(const json::value& v, std::string_view key, std::vector<T>*) {
    if (!v.is_array()) throw CodecError(std::string(key) + " is not an array");
    std::vector<T> out;
    out.reserve(v.as_array().size());
    for (const auto& e : v.as_array()) out.push_back(read(e, key, static_cast<T*>(nullptr)));
    return out;
}
template <class T>
std::map<std::string, T> read(const json::value& v, std::string_view key, std::map<std::string, T>*) {
    if (!v.is_object()) throw CodecError(std::string(key) + " is not an object");
    std::map<std::string, T> out;
    for (const auto& kv : v.as_object()) out.emplace(std::string(kv.key()), read(kv.value(), key, static_cast<T*>(nullptr)));
    return out;
}
/// Any other DTO: its own codec.
template <class T>
T read(const json::value& v, std::string_view, T*) {
    return json::value_to<T>(v);
}
}  // namespace detail

/// Required field `key` of `o` as T (absent or null → "<key> is missing").
template <class T>
T required(const json::object& o, std::string_view key) {
    const auto* v = field(o, key);
    if (v == nullptr) throw CodecError(std::string(key) + " is missing");
    return detail::read(*v, key, static_cast<T*>(nullptr));
}

/// Optional field `key` of `o` as T (absent or null → nullopt).
template <class T>
std::optional<T> optional(const json::object& o, std::string_view key) {
    const auto* v = field(o, key);
    if (v == nullptr) return std::nullopt;
    return detail::read(*v, key, static_cast<T*>(nullptr));
}

/// Field `key` of `o` as T, `fallback` when absent or null.
template <class T>
T with_default(const json::object& o, std::string_view key, T fallback) {
    const auto* v = field(o, key);
    if (v == nullptr) return fallback;
    return detail::read(*v, key, static_cast<T*>(nullptr));
}

/// JSON of an optional: the value, or null.
template <class T>
json::value or_null(const std::optional<T>& v) {
    return v ? json::value_from(*v) : json::value(nullptr);
}

}  // namespace lt::bus::codec
