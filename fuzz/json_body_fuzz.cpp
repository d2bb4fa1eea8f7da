// libFuzzer target: the JSON body parser every endpoint uses (lt::parse_json: depth limit, duplicate
// members refused) and the typed field readers, with invariants: an accepted document has no
// repeated member at any level and survives a serialize → parse round trip unchanged; valid_utf8 is
// idempotent and yields UTF-8 that Boost.JSON accepts.
#include <cstddef>
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
    if (!again || *again != *v) __builtin_trap();
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
