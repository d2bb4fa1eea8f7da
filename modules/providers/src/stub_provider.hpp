#pragma once
/// ProviderService: answers chat calls, either as a stub (with configured latency, failures and
/// hangs) or by calling the configured upstream over HTTP.

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "lt/bus/bus.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/log.hpp"
#include "lt/http/client.hpp"
#include "lt/providers/providers.hpp"
#include "providers_config.hpp"
#include "stream_sessions.hpp"
#include "upstream_client.hpp"

namespace lt::providers {

/// Deterministic token counts for a request: prompt = ceil(chars / 4) (at least 1), completion =
/// 8 + (FNV-1a of the prompt text mod 25), total = their sum. The prompt text is body["prompt"] when
/// it is a string, else the serialized body.
Usage usage_for(const boost::json::object& body);

/// The stub's answer (original shape plus `usage`): {"id","provider","received","created","message","usage"}.
ChatReply stub_reply(std::string_view provider, const boost::json::object& body, std::string id,
                     std::chrono::system_clock::time_point now);

/// Thread-safe: called concurrently from I/O threads.
class ProviderService {
public:
    ProviderService(ProvidersConfig config, http::Client* client, Clock& clock, Logger log);

    /// One chat call honouring the context deadline.
    boost::asio::awaitable<Result<ChatReply>> chat(ChatRequest req, bus::Context ctx);

    /// One OpenAI-style completion (kCompletion) honouring the context deadline; the stub's
    /// latency, jitter, failure and hang settings apply as to chat(). A provider with a base-url and
    /// type `stub` (the old /api/v1/{p}/chat upstream) has no chat completions: Errc::unavailable; an
    /// openai-compatible one is called without streaming (its upstream's 429 → Errc::rate_limited).
    boost::asio::awaitable<Result<boost::json::object>> complete(boost::json::object request, bus::Context ctx);

    /// Builds the HTTPS clients of openai-compatible providers (loads CA files). Start-up only.
    Result<void> init();

    /// {"<provider>": ["model", ...]} for every provider (kModels's `providers`).
    boost::json::object models() const;
    /// {"<provider>": {"fallback", "maxCompletionTokens"}} (kModels's `settings`).
    boost::json::object settings() const;

    /// kStreamOpen: a stub answers as complete(); an openai-compatible upstream is asked to
    /// stream (with stream_options.include_usage) and the open stream becomes a session.
    boost::asio::awaitable<Result<boost::json::object>> open_stream(boost::json::object request, bus::Context ctx);
    /// The stream sessions in flight (kStreamNext, kStreamClose).
    StreamSessions& sessions() { return sessions_; }
    /// The keep-alive client of an openai-compatible provider (nullptr otherwise). For tests.
    UpstreamClient* upstream(const std::string& provider);

private:
    /// The stub's simulated latency, hangs and failures before it answers.
    boost::asio::awaitable<Result<void>> simulate(const ProviderSettings& s, const bus::Context& ctx);
    /// kCompletion answered by an openai-compatible upstream (not streamed upstream: the
    /// answer becomes one chunk).
    boost::asio::awaitable<Result<boost::json::object>> complete_upstream(const ProviderSettings& s,
                                                                           const std::string& provider,
                                                                           boost::json::object request,
                                                                           bus::Context ctx);
    boost::asio::awaitable<Result<ChatReply>> call_upstream(const ProviderSettings& s, ChatRequest req, bus::Context ctx);
    boost::asio::awaitable<Result<ChatReply>> call_stub(const ProviderSettings& s, ChatRequest req, bus::Context ctx);

    /// The upstream request of kCompletion / kStreamOpen; `traceparent` (W3C) is
    /// forwarded when not empty.
    Result<http::ClientRequest> upstream_request(const ProviderSettings& s, const boost::json::object& request,
                                                 bool stream, const std::string& traceparent) const;

    ProvidersConfig config_;
    std::map<std::string, std::unique_ptr<UpstreamClient>> upstreams_;  ///< openai-compatible providers
    StreamSessions sessions_;
    http::Client* client_;
    Clock& clock_;
    Logger log_;
};

}  // namespace lt::providers
