// Reading Spring Cloud Config's Environment JSON (for processes applying config.url).
#include <set>

#include <boost/json.hpp>

#include "lt/config_server/config_server.hpp"

namespace json = boost::json;

namespace lt::config_server {

Result<std::vector<std::pair<std::string, std::string>>> properties_from_environment(const json::value& env) {
    const auto* o = env.if_object();
    const json::value* sources = o ? o->if_contains("propertySources") : nullptr;
    if (!sources || !sources->is_array()) return fail(Errc::invalid_argument, "not a config server environment");
    std::vector<std::pair<std::string, std::string>> out;
    std::set<std::string, std::less<>> seen;
    for (const auto& s : sources->as_array()) {
        const json::value* source = s.is_object() ? s.as_object().if_contains("source") : nullptr;
        if (!source || !source->is_object()) return fail(Errc::invalid_argument, "propertySources[].source must be an object");
        for (const auto& kv : source->as_object()) {
            std::string key(kv.key());
            if (!seen.insert(key).second) continue;
            out.emplace_back(std::move(key), kv.value().is_string() ? std::string(kv.value().as_string())
                                                                     : json::serialize(kv.value()));
        }
    }
    return out;
}

}  // namespace lt::config_server
