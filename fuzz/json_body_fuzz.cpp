// libFuzzer target: the JSON body parser every endpoint uses (lt::parse_json: depth limit, duplicate
// members refused) and the typed field readers, with invariants: an accepted document has no
// repeated member at any level and survives a serialize → parse round trip unchanged; valid_utf8 is
// idempotent and yields UTF-8 that Boost.JSON accepts.
#include <cstddef>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "lt/core/json.hpp"

namespace {

bool no_duplicates(const boost::json::value& v) {
    if (v.is_object()) {
        std::set<std::string_view> seen;
        for (const auto& kv : v.as_object()) {
            if (!seen.insert(std::string_view(kv.key().data(), kv.key().size())).second) return false;
            if (!no_duplicates(kv.value())) return false;
        }
    } else if (v.is_array()) {
        for (const auto& e : v.as_array()) {
            if (!no_duplicates(e)) return false;
        }
    }
    return true;
}

/// Equal, with doubles compared loosely: Boost.JSON 1.81 parses numbers fast but not always
/// correctly rounded, so a double may move by an ulp through serialize → parse.
bool same(const boost::json::value& a, const boost::json::value& b) {
    if (a.is_double() && b.is_double()) {
        const double x = a.as_double(), y = b.as_double();
        return x == y || std::fabs(x - y) <= 1e-12 * std::max(std::fabs(x), std::fabs(y));
    }
    if (a.kind() != b.kind()) return false;
    if (a.is_object()) {
        const auto& p = a.as_object();
        const auto& q = b.as_object();
        if (p.size() != q.size()) return false;
        for (const auto& kv : p) {
            const auto* other = q.if_contains(kv.key());
            if (other == nullptr || !same(kv.value(), *other)) return false;
        }
        return true;
    }
    if (a.is_array()) {
        const auto& p = a.as_array();
        const auto& q = b.as_array();
        if (p.size() != q.size()) return false;
        for (std::size_t i = 0; i < p.size(); ++i) {
            if (!same(p[i], q[i])) return false;
        }
        return true;
    }
    return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::string clean = lt::valid_utf8(text);
    if (lt::valid_utf8(clean) != clean) __builtin_trap();
    {
        boost::system::error_code ec;
        (void)boost::json::parse(lt::to_json_text(boost::json::value(boost::json::string(clean))), ec);
        if (ec) __builtin_trap();
    }
    auto v = lt::parse_json(text);
    if (!v) return 0;
    if (!no_duplicates(*v)) __builtin_trap();
    auto again = lt::parse_json(lt::to_json_text(*v));
    if (!again || !same(*again, *v)) __builtin_trap();
    auto o = lt::parse_json_object(text);
    if (o) {
        for (const char* key : {"username", "password", "email", "userId", "provider", "tokens", "orgId",
                                "allowanceTokens", "prompt", "model", "name", "expiresInDays"}) {
            (void)lt::get_string(*o, key);
            (void)lt::get_int(*o, key);
        }
    }
    return 0;
}
