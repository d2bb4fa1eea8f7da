#include "config_repository.hpp"

#include <algorithm>
#include <map>
#include <system_error>

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include "lt/core/time.hpp"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace lt::config_server {

namespace {

bool valid_name(std::string_view s) {
    if (s.empty() || s.front() == '.') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
    });
}

bool all_digits(std::string_view s) {
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool looks_float(std::string_view s) {
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
    bool digit = false, dot = false, exp = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            digit = true;
        } else if (c == '.' && !dot && !exp) {
            dot = true;
        } else if ((c == 'e' || c == 'E') && digit && !exp) {
            exp = true;
            digit = false;
            if (i + 1 < s.size() && (s[i + 1] == '-' || s[i + 1] == '+')) ++i;
        } else {
            return false;
        }
    }
    return digit && (dot || exp);
}

// Plain scalars typed as Spring's SnakeYAML (YAML 1.1) types them: yes/no/on/off are booleans too.
// Quoted scalars stay strings.
json::value scalar_value(const YAML::Node& n) {
    const std::string& s = n.Scalar();
    if (n.Tag() == "!") return json::value(s);
    const auto lower = to_lower(s);
    if (lower == "true" || lower == "yes" || lower == "on") return json::value(true);
    if (lower == "false" || lower == "no" || lower == "off") return json::value(false);
    if (lower == "~" || lower == "null") return json::value("");
    if (all_digits(s)) {
        try {
            return json::value(static_cast<std::int64_t>(std::stoll(s)));
        } catch (...) {
        }
    }
    if (looks_float(s)) {
        try {
            return json::value(std::stod(s));
        } catch (...) {
        }
    }
    return json::value(s);
}

struct Flattener {
    const PropertyCipher& cipher;
    const Logger& log;
    const std::string& file;
    std::vector<std::pair<std::string, json::value>>& out;

    void add(const std::string& key, json::value v) {
        if (auto* s = v.if_string(); s && std::string_view(*s).substr(0, kCipherPrefix.size()) == kCipherPrefix) {
            auto plain = cipher.decrypt(std::string_view(*s));
            if (plain) {
                v = json::value(*plain);
            } else {
                // Never the value: only which key could not be decrypted and why.
                log->warn("config value cannot be decrypted key={} file={} reason=\"{}\"", key, file,
                          plain.error().message);
                v = json::value("<n/a>");
            }
        }
        out.emplace_back(key, std::move(v));
    }

    void walk(const YAML::Node& n, const std::string& prefix) {
        switch (n.Type()) {
            case YAML::NodeType::Map:
                for (const auto& kv : n) {
                    const std::string k = kv.first.Scalar();
                    walk(kv.second, prefix.empty() ? k : prefix + "." + k);
                }
                break;
            case YAML::NodeType::Sequence:
                for (std::size_t i = 0; i < n.size(); ++i) walk(n[i], prefix + "[" + std::to_string(i) + "]");
                break;
            case YAML::NodeType::Scalar:
                if (!prefix.empty()) add(prefix, scalar_value(n));
                break;
            default:
                if (!prefix.empty()) add(prefix, json::value(""));
                break;
        }
    }
};

}  // namespace

ConfigRepository::ConfigRepository(std::vector<fs::path> locations, PropertyCipher cipher, Logger log)
    : locations_(std::move(locations)), cipher_(std::move(cipher)), log_(std::move(log)) {}

Result<Environment> ConfigRepository::find(std::string_view application, std::string_view profiles,
                                           std::optional<std::string> label) const {
    Environment env;
    env.name = std::string(application);
    env.label = std::move(label);
    std::size_t start = 0;
    while (start <= profiles.size()) {
        auto comma = profiles.find(',', start);
        if (comma == std::string_view::npos) comma = profiles.size();
        auto p = trim(profiles.substr(start, comma - start));
        if (!p.empty()) env.profiles.push_back(p);
        start = comma + 1;
    }
    if (env.profiles.empty()) env.profiles.push_back("default");
    if (!valid_name(application)) return fail(Errc::not_found, "no configuration for application");
    for (const auto& p : env.profiles) {
        if (!valid_name(p)) return fail(Errc::not_found, "no configuration for application");
    }

    // Most specific first; the last profile listed wins over the earlier ones (Spring's order).
    std::vector<std::string> own;
    for (auto it = env.profiles.rbegin(); it != env.profiles.rend(); ++it) own.push_back(env.name + "-" + *it);
    own.push_back(env.name);
    std::vector<std::string> bases = own;
    if (env.name != "application") {
        for (auto it = env.profiles.rbegin(); it != env.profiles.rend(); ++it) bases.push_back("application-" + *it);
        bases.push_back("application");
    }

    bool found_own = false;
    std::vector<fs::path> seen;
    for (std::size_t b = 0; b < bases.size(); ++b) {
        for (const auto& dir : locations_) {
            for (const char* ext : {".yml", ".yaml"}) {
                fs::path file = dir / (bases[b] + ext);
                std::error_code ec;
                if (!fs::is_regular_file(file, ec)) continue;
                if (std::find(seen.begin(), seen.end(), file) != seen.end()) continue;
                seen.push_back(file);
                if (b < own.size()) found_own = true;
                PropertySource src;
                src.name = "file:" + file.string();
                try {
                    YAML::Node root = YAML::LoadFile(file.string());
                    Flattener{cipher_, log_, src.name, src.source}.walk(root, "");
                } catch (const std::exception& e) {
                    log_->error("config file is not valid yaml file={} error=\"{}\"", file.string(), e.what());
                    return fail(Errc::internal, "cannot read configuration");
                }
                env.property_sources.push_back(std::move(src));
            }
        }
    }
    if (!found_own) return fail(Errc::not_found, "no configuration for application " + env.name);
    return env;
}

json::value to_json(const Environment& env) {
    json::array profiles;
    for (const auto& p : env.profiles) profiles.emplace_back(p);
    json::array sources;
    for (const auto& s : env.property_sources) {
        json::object source;
        for (const auto& [k, v] : s.source) source[k] = v;
        sources.push_back(json::object{{"name", s.name}, {"source", std::move(source)}});
    }
    json::object o;
    o["name"] = env.name;
    o["profiles"] = std::move(profiles);
    o["label"] = env.label ? json::value(*env.label) : json::value(nullptr);
    o["version"] = nullptr;
    o["state"] = nullptr;
    o["propertySources"] = std::move(sources);
    return o;
}

FlatProperties merge(const Environment& env) {
    FlatProperties out;
    std::map<std::string, std::size_t, std::less<>> index;
    for (auto s = env.property_sources.rbegin(); s != env.property_sources.rend(); ++s) {
        for (const auto& [k, v] : s->source) {
            auto it = index.find(k);
            if (it == index.end()) {
                index.emplace(k, out.size());
                out.emplace_back(k, v);
            } else {
                out[it->second].second = v;
            }
        }
    }
    return out;
}

}  // namespace lt::config_server
