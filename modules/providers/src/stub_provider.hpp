#pragma once
/// ProviderService: answers chat calls, either as a stub (with configured latency, failures and
/// hangs) or by calling the configured upstream over HTTP.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
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

/// One provider as a request sees it: its settings and, openai-compatible, its upstream.
struct ProviderEntry {
    ProviderSettings settings;
    std::optional<UpstreamUrl> url;           ///< openai-compatible: the parsed base-url
    std::shared_ptr<UpstreamClient> client;   ///< openai-compatible: the keep-alive client
};

/// Every provider's settings at one moment. A request takes one snapshot and keeps it to its end;
/// a refresh swaps in a new one.
struct ProvidersSnapshot {
    std::map<std::string, ProviderEntry> providers;  ///< one entry per known provider
};

/// Thread-safe: called concurrently from I/O threads.
class ProviderService {
public:
    ProviderService(ProvidersConfig config, http::Client* client, Clock& clock, Logger log);

    /// Builds the TLS contexts (loads the CA files and the system store) and the clients of
    /// openai-compatible providers. Start-up only (blocking file reads).
    Result<void> init();
    /// Applies refreshed settings atomically: requests already running keep the snapshot they took;
    /// the client (and keep-alive pool) of a provider whose base-url, pool settings or type changed
    /// is replaced and the old one retired. A CA file not loaded at start → Errc::invalid_argument
    /// and nothing applied (ca-file needs a restart). Any thread; never blocks.
    Result<void> apply(ProvidersConfig next);
    /// The settings in force now. Any thread.
    std::shared_ptr<const ProvidersSnapshot> snapshot() const { return snapshot_.load(); }

    /// One chat call honouring the context deadline.
    boost::asio::awaitable<Result<ChatReply>> chat(ChatRequest req, bus::Context ctx);

    /// One OpenAI-style completion (kCompletion) honouring the context deadline; the stub's
    /// latency, jitter, failure and hang settings apply as to chat(). A provider with a base-url and
    /// type `stub` (the old /api/v1/{p}/chat upstream) has no chat completions: Errc::unavailable; an
    /// openai-compatible one is called without streaming (its upstream's 429 → Errc::rate_limited).
    boost::asio::awaitable<Result<CompletionReply>> complete(CompletionRequest request, bus::Context ctx);

    /// kModels: the models and routing settings of every provider.
    ModelsReply models() const;

    /// kStreamOpen: a stub answers as complete(); an openai-compatible upstream is asked to
    /// stream (with stream_options.include_usage) and the open stream becomes a session.
    boost::asio::awaitable<Result<StreamOpenReply>> open_stream(CompletionRequest request, bus::Context ctx);
    /// The stream sessions in flight (kStreamNext, kStreamClose).
    StreamSessions& sessions() { return sessions_; }
    /// The keep-alive client of an openai-compatible provider now (nullptr otherwise). For tests.
    std::shared_ptr<UpstreamClient> upstream(const std::string& provider) const;

private:
    /// A snapshot of `cfg`, reusing `current`'s clients where base-url, pool and CA file are unchanged.
    Result<std::shared_ptr<const ProvidersSnapshot>> build(const ProvidersConfig& cfg,
                                                           const ProvidersSnapshot* current) const;
    /// The stub's simulated latency, hangs and failures before it answers.
    boost::asio::awaitable<Result<void>> simulate(const ProviderSettings& s, const bus::Context& ctx);
    /// kCompletion answered by an openai-compatible upstream (not streamed upstream: the
    /// answer becomes one chunk).
    boost::asio::awaitable<Result<CompletionReply>> complete_upstream(const ProviderEntry& p, CompletionRequest request,
                                                                      bus::Context ctx);
    boost::asio::awaitable<Result<ChatReply>> call_upstream(const ProviderSettings& s, ChatRequest req, bus::Context ctx);
    boost::asio::awaitable<Result<ChatReply>> call_stub(const ProviderSettings& s, ChatRequest req, bus::Context ctx);

    /// The upstream request of kCompletion / kStreamOpen; `traceparent` (W3C) is
    /// forwarded when not empty.
    http::ClientRequest upstream_request(const ProviderEntry& p, const CompletionRequest& request, bool stream,
                                         const std::string& traceparent) const;

    ProvidersConfig initial_;  ///< the start-up configuration, until init()
    /// TLS contexts by CA file (nullopt: the system store), built by init(); read-only afterwards.
    std::map<std::optional<std::string>, std::shared_ptr<UpstreamTls>> tls_;
    std::atomic<std::shared_ptr<const ProvidersSnapshot>> snapshot_;
    std::mutex apply_mutex_;  ///< serializes apply()
    StreamSessions sessions_;
    http::Client* client_;
    Clock& clock_;
    Logger log_;
};

}  // namespace lt::providers
