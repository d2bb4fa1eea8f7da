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
    {
        config::KeySpec type{"providers.*.type", Type::enumeration,
                             "Who answers chat completions: stub (in-process), or openai-compatible (POST <base-url>/chat/completions over HTTP or HTTPS)."};
        type.choices = {"stub", "openai-compatible"};
        schema.add(type);
        config::KeySpec key{"providers.*.api-key", Type::string,
                            "openai-compatible: the upstream's API key, sent as Authorization: Bearer; write it ${OPENAI_API_KEY}."};
        key.secret = true;
        schema.add(key);
        schema.add({"providers.*.ca-file", Type::string,
                    "openai-compatible over https: PEM file of trusted CAs (unset: the system store)."});
    }
    schema.add({"providers.*.models", Type::string_list,
                "Model names this provider serves: a bare `model` of /v1/chat/completions routes here."});
    schema.add({"providers.*.stream.chunks", Type::integer, "Stub: chunks of a streamed chat completion.", 1, 10000});
    schema.add({"providers.*.stream.delay", Type::duration, "Stub: pause before each streamed chunk.", 0});
    schema.add({"providers.*.stream.failure-rate", Type::number,
                "Stub: share of streamed completions (0..1) that break off mid-stream.", 0, 1});
    schema.add({"providers.*.timeout", Type::duration, "Upstream HTTP deadline per call when base-url is set.", 1});
    schema.add({"providers.*.connect-timeout", Type::duration,
                "openai-compatible: deadline of the TCP connect and TLS handshake.", 1});
    schema.add({"providers.*.first-byte-timeout", Type::duration,
                "openai-compatible streams: deadline from sending the request to the response headers.", 1});
    schema.add({"providers.*.idle-timeout", Type::duration,
                "openai-compatible streams: longest pause between two chunks before the stream counts as failed.", 1});
    schema.add({"providers.*.fallback", Type::string,
                "Provider that serves /v1/chat/completions when this one fails (after retries, or an open circuit) or the caller's pool for it is empty."});
    schema.add({"providers.*.max-completion-tokens", Type::integer,
                "Completion limit of /v1/chat/completions when the caller sends neither max_completion_tokens nor max_tokens.",
                1, 1000000000});
    schema.add({"providers.*.pool.max-idle", Type::integer,
                "openai-compatible: keep-alive connections kept idle per upstream (0: no reuse).", 0, 100000});
    schema.add({"providers.*.pool.idle-timeout", Type::duration,
                "openai-compatible: an idle pooled connection is closed after this.", 0});
}

bool is_refreshable_key(std::string_view key) {
    return key.starts_with("providers.") && !key.ends_with(".ca-file");
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
        s.type = to_lower(cfg.get_string(p + "type")) == "openai-compatible" ? ProviderType::openai_compatible
                                                                             : ProviderType::stub;
        if (cfg.has(p + "api-key") && !cfg.get_string(p + "api-key").empty()) s.api_key = cfg.get_string(p + "api-key");
        if (cfg.has(p + "ca-file") && !cfg.get_string(p + "ca-file").empty()) s.ca_file = cfg.get_string(p + "ca-file");
        if (s.type == ProviderType::openai_compatible && !s.base_url) {
            errors += "providers." + std::string(name) + ".base-url is required when type is openai-compatible\n";
        }
        if (cfg.has(p + "models")) s.models = cfg.get_list(p + "models");
        s.stream_chunks = cfg.get_int(p + "stream.chunks", s.stream_chunks);
        s.stream_delay = cfg.get_duration(p + "stream.delay", s.stream_delay);
        s.stream_failure_rate = cfg.get_double(p + "stream.failure-rate", s.stream_failure_rate);
        s.connect_timeout = cfg.get_duration(p + "connect-timeout", s.connect_timeout);
        s.first_byte_timeout = cfg.get_duration(p + "first-byte-timeout", s.first_byte_timeout);
        s.idle_timeout = cfg.get_duration(p + "idle-timeout", s.idle_timeout);
        if (cfg.has(p + "fallback") && !cfg.get_string(p + "fallback").empty()) {
            auto fb = to_lower(cfg.get_string(p + "fallback"));
            if (!is_known_provider(fb) || fb == name) {
                errors += p + "fallback: must name another provider (qwen, gemini, openai)\n";
            } else {
                s.fallback = fb;
            }
        }
        s.max_completion_tokens = cfg.get_int(p + "max-completion-tokens", s.max_completion_tokens);
        s.pool_max_idle = cfg.get_int(p + "pool.max-idle", s.pool_max_idle);
        s.pool_idle_timeout = cfg.get_duration(p + "pool.idle-timeout", s.pool_idle_timeout);
        out.providers.emplace(std::string(name), s);
    }
    if (!errors.empty()) {
        errors.pop_back();
        return fail(Errc::invalid_argument, errors);
    }
    return out;
}

}  // namespace lt::providers
