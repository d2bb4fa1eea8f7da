#pragma once
/// Typed configuration of the providers module (providers.<name>.*).

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lt/core/config.hpp"
#include "lt/core/result.hpp"

namespace lt::providers {

/// Who answers a provider's chat completions.
enum class ProviderType { stub, openai_compatible };

struct ProviderSettings {
    ProviderType type = ProviderType::stub;    ///< openai-compatible: POST <base-url>/chat/completions
    std::optional<std::string> api_key;        ///< sent as Authorization: Bearer (never logged)
    std::optional<std::string> ca_file;        ///< PEM trust anchors for https (unset: system store)
    std::optional<std::string> base_url;       ///< set: call <base-url>/api/v1/<name>/chat over HTTP
    std::chrono::milliseconds latency{0};      ///< stub: fixed delay before answering
    std::chrono::milliseconds jitter{0};       ///< stub: extra uniform random delay in [0, jitter]
    double failure_rate = 0.0;                 ///< stub: share of calls answered with a 5xx
    double hang_rate = 0.0;                    ///< stub: share of calls that never answer (until hang-duration)
    std::chrono::milliseconds hang_duration{30000};
    std::chrono::milliseconds timeout{2000};   ///< upstream HTTP deadline per call (base-url only)
    std::vector<std::string> models;           ///< model names served (bare names route here)
    long long stream_chunks = 4;               ///< stub: chunks of a streamed completion (≥ 1)
    std::chrono::milliseconds stream_delay{0}; ///< stub: pause before each streamed chunk
    double stream_failure_rate = 0.0;          ///< stub: share of streams that break off mid-stream
    std::chrono::milliseconds connect_timeout{2000};     ///< openai-compatible: TCP + TLS handshake
    std::chrono::milliseconds first_byte_timeout{30000}; ///< openai-compatible streams: until the response headers
    std::chrono::milliseconds idle_timeout{30000};       ///< openai-compatible streams: longest pause between chunks
    std::optional<std::string> fallback;       ///< provider that serves when this one fails or the caller's pool is empty
    long long max_completion_tokens = 4096;    ///< completion limit when the caller gives none
    long long pool_max_idle = 16;              ///< keep-alive connections kept idle per upstream
    std::chrono::milliseconds pool_idle_timeout{30000};  ///< an idle pooled connection is closed after this
};

struct ProvidersConfig {
    std::map<std::string, ProviderSettings> providers;  ///< one entry per known provider
};

/// Reads providers.*; an unknown provider name is an error naming the key.
Result<ProvidersConfig> parse_config(const config::Config& cfg);

/// True for a providers.* key POST /actuator/refresh applies live: all of them but
/// providers.<name>.ca-file (trust anchors are loaded at start; reading them would block the I/O
/// thread that applies a refresh).
bool is_refreshable_key(std::string_view key);

}  // namespace lt::providers
