#include "providers_config.hpp"

#include "lt/core/time.hpp"
#include "lt/providers/providers.hpp"

namespace lt::providers {

void describe_config(config::Schema& schema) {
    using config::Type;
    schema.add({"providers.*.base-url", Type::string,
                "Base URL of a real upstream (http://host:port); calls go to <base-url>/api/v1/<name>/chat. Unset: the in-process stub answers."});
    schema.add({"providers.*.latency", Type::duration, "Stub: fixed latency before answering.", 0});
    schema.add({"providers.*.jitter", Type::duration, "Stub: extra random latency, uniform in [0, jitter].", 0});
    schema.add({"providers.*.failure-rate", Type::number, "Stub: share of calls (0..1) answered with 503.", 0, 1});
    schema.add({"providers.*.hang-rate", Type::number, "Stub: share of calls (0..1) that hang for hang-duration.", 0, 1});
    schema.add({"providers.*.hang-duration", Type::duration, "Stub: how long a hanging call waits before giving up.", 0});
    schema.add({"providers.*.timeout", Type::duration, "Upstream HTTP deadline per call when base-url is set.", 1});
}

Result<ProvidersConfig> parse_config(const config::Config& cfg) {
    ProvidersConfig out;
    std::string errors;
    for (const auto& name : cfg.children("providers")) {
        if (!is_known_provider(name) || name != to_lower(name)) {
            errors += "unknown provider 'providers." + name + "' (known: qwen, gemini, openai)\n";
        }
    }
    if (!errors.empty()) {
        errors.pop_back();
        return fail(Errc::invalid_argument, errors);
    }
    for (auto name : kKnownProviders) {
        std::string p = "providers." + std::string(name) + ".";
        ProviderSettings s;
        if (cfg.has(p + "base-url")) {
            auto url = cfg.get_string(p + "base-url");
            if (!url.empty()) s.base_url = url;
        }
        s.latency = cfg.get_duration(p + "latency", s.latency);
        s.jitter = cfg.get_duration(p + "jitter", s.jitter);
        s.failure_rate = cfg.get_double(p + "failure-rate", s.failure_rate);
        s.hang_rate = cfg.get_double(p + "hang-rate", s.hang_rate);
        s.hang_duration = cfg.get_duration(p + "hang-duration", s.hang_duration);
        s.timeout = cfg.get_duration(p + "timeout", s.timeout);
        out.providers.emplace(std::string(name), s);
    }
    return out;
}

}  // namespace lt::providers
