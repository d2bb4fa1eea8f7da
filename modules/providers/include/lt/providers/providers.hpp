#pragma once
/// Contract of the providers module: the stub providers (qwen, gemini, openai) and the upstream
/// adapter for real OpenAI-compatible APIs, reachable through the bus commands below and publicly at
/// POST /api/v1/{provider}/chat.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "lt/bus/bus.hpp"
#include "lt/core/config.hpp"
#include "lt/http/route_spec.hpp"
#include "lt/core/module.hpp"
#include "lt/core/result.hpp"

namespace lt::providers {

/// The providers this build knows, lower-case.
inline constexpr std::array<std::string_view, 3> kKnownProviders{"qwen", "gemini", "openai"};

/// True for a known provider name (case-insensitive).
bool is_known_provider(std::string_view name);

/// Request of kChat.
struct ChatRequest {
    std::string provider;       ///< lower-case
    boost::json::object body;   ///< the chat request, e.g. {"prompt": "Hello"}
    bool operator==(const ChatRequest&) const = default;
};

struct Usage {
    long long prompt_tokens = 0;
    long long completion_tokens = 0;
    long long total_tokens = 0;
    bool operator==(const Usage&) const = default;
};

/// Reply of kChat.
struct ChatReply {
    boost::json::object response;  ///< the provider's JSON object ({"id","provider","received","created","message","usage"})
    Usage usage;
    bool operator==(const ChatReply&) const = default;
};

/// Request of kCompletion: one OpenAI-style chat completion.
struct CompletionRequest {
    std::string provider;              ///< lower-case
    std::string model;                 ///< the name the provider serves
    boost::json::array messages;       ///< OpenAI's messages array
    std::int64_t max_tokens = 1;       ///< completion limit, ≥ 1
    bool stream = false;
    std::optional<std::string> user;
    boost::json::object extra;         ///< fields of the caller's request passed to the upstream untouched (wire "extra", omitted when empty)
    bool operator==(const CompletionRequest&) const = default;
};

/// One piece of a completion's stream.
struct CompletionChunk {
    std::string content;
    std::int64_t completion_tokens = 0;
    bool operator==(const CompletionChunk&) const = default;
};

/// Reply of kCompletion.
struct CompletionReply {
    std::string id;
    std::int64_t created = 0;  ///< Unix seconds
    std::string model;
    std::string provider;
    std::string content;
    std::string finish_reason;  ///< "stop" | "length"
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::vector<CompletionChunk> chunks;  ///< the stream, in order; tokens add up to completion_tokens
    std::int64_t chunk_delay_ms = 0;      ///< the pause before each chunk
    std::int64_t fail_at_chunk = -1;      ///< index of the chunk at which the upstream breaks off; -1: none
    bool operator==(const CompletionReply&) const = default;
};

/// Settings of one provider the token module routes by (kModels).
struct ProviderRouting {
    std::optional<std::string> fallback;     ///< providers.<name>.fallback (wire: name or null)
    std::int64_t max_completion_tokens = 0;  ///< providers.<name>.max-completion-tokens, tokens
    bool operator==(const ProviderRouting&) const = default;
};

/// Reply of kModels: provider name → the models it serves (providers.<name>.models), and its settings.
struct ModelsReply {
    std::map<std::string, std::vector<std::string>> providers;
    std::map<std::string, ProviderRouting> settings;
    bool operator==(const ModelsReply&) const = default;
};

/// A live upstream stream opened by kStreamOpen (openai-compatible providers).
struct StreamSession {
    std::string session;              ///< the session id for kStreamNext / kStreamClose
    std::string id;                   ///< the completion id ("chatcmpl-...")
    std::int64_t created = 0;         ///< Unix seconds
    std::string model;
    std::string provider;
    std::int64_t idle_timeout_ms = 0; ///< kStreamNext waits at most this long for a batch
    bool operator==(const StreamSession&) const = default;
};

/// Reply of kStreamOpen: a live session, or (stub providers) the whole simulated stream. Wire: the
/// session's fields ({"session", "id", "created", "model", "provider", "idleTimeoutMs"}), or exactly
/// kCompletion's reply.
struct StreamOpenReply {
    std::optional<StreamSession> stream;  ///< set: live; the body is read with kStreamNext
    CompletionReply completion;           ///< when `stream` is empty: the simulated stream
    bool operator==(const StreamOpenReply&) const = default;
};

/// Request of kStreamNext and kStreamClose.
struct StreamRef {
    std::string session;
    bool operator==(const StreamRef&) const = default;
};

/// One event of a stream batch: an OpenAI delta and the completion tokens it counts.
struct StreamDelta {
    boost::json::object delta;
    std::int64_t tokens = 0;  ///< the upstream's running count when it sends usage in every chunk, else 1
    bool operator==(const StreamDelta&) const = default;
};

/// Token counts the upstream reported in a stream.
struct StreamUsage {
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    bool operator==(const StreamUsage&) const = default;
};

/// Reply of kStreamNext: the next batch of a session. The session ends with a batch that is done or
/// has an error.
struct StreamBatch {
    std::vector<StreamDelta> events;
    std::optional<std::string> finish_reason;
    std::optional<StreamUsage> usage;
    bool done = false;
    std::optional<std::string> error;
    bool operator==(const StreamBatch&) const = default;
};

/// Command: one chat call. Errors: Errc::invalid_argument (unknown provider), Errc::bad_gateway
/// (provider answered 5xx or garbage), Errc::timeout, Errc::unavailable (cannot connect).
inline constexpr bus::Command<ChatRequest, ChatReply> kChat{"provider.chat.v1"};
/// Command: one OpenAI-style chat completion. Errors as kChat.
inline constexpr bus::Command<CompletionRequest, CompletionReply> kCompletion{"provider.completion.v1"};
/// Command: the models each provider serves.
inline constexpr bus::Command<bus::Empty, ModelsReply> kModels{"provider.models.v1"};
/// Command: opens a streamed completion (request as kCompletion). A stub provider answers with the
/// simulated stream; an openai-compatible one once the upstream's response headers arrived. Errors as
/// kChat, plus Errc::rate_limited when the upstream itself answered 429.
inline constexpr bus::Command<CompletionRequest, StreamOpenReply> kStreamOpen{"provider.completion.open.v1"};
/// Command: the next batch of a stream session; waits at most the provider's idle-timeout.
/// Errc::not_found: no such session.
inline constexpr bus::Command<StreamRef, StreamBatch> kStreamNext{"provider.completion.next.v1"};
/// Command: stops a stream session (closes the upstream connection).
inline constexpr bus::Command<StreamRef, bus::Empty> kStreamClose{"provider.completion.close.v1"};

// Codecs (Boost.JSON; wire names camelCase).
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const ChatRequest& m);
ChatRequest tag_invoke(boost::json::value_to_tag<ChatRequest>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const ChatReply& m);
ChatReply tag_invoke(boost::json::value_to_tag<ChatReply>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const CompletionRequest& m);
CompletionRequest tag_invoke(boost::json::value_to_tag<CompletionRequest>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const CompletionChunk& m);
CompletionChunk tag_invoke(boost::json::value_to_tag<CompletionChunk>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const CompletionReply& m);
CompletionReply tag_invoke(boost::json::value_to_tag<CompletionReply>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const ProviderRouting& m);
ProviderRouting tag_invoke(boost::json::value_to_tag<ProviderRouting>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const ModelsReply& m);
ModelsReply tag_invoke(boost::json::value_to_tag<ModelsReply>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const StreamOpenReply& m);
StreamOpenReply tag_invoke(boost::json::value_to_tag<StreamOpenReply>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const StreamRef& m);
StreamRef tag_invoke(boost::json::value_to_tag<StreamRef>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const StreamDelta& m);
StreamDelta tag_invoke(boost::json::value_to_tag<StreamDelta>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const StreamBatch& m);
StreamBatch tag_invoke(boost::json::value_to_tag<StreamBatch>, const boost::json::value& v);

/// Public HTTP routes of the providers module: the stub providers' chat (credentials required: CONTRACT 5).
inline constexpr http::RouteSpec kRoutes[] = {
    {"POST", "/api/v1/qwen/chat", http::Access::required, "qwen-stub"},
    {"POST", "/api/v1/gemini/chat", http::Access::required, "gemini-stub"},
    {"POST", "/api/v1/openai/chat", http::Access::required, "openai-stub"},
};

/// Declares providers.* configuration keys.
void describe_config(config::Schema& schema);

/// The module factory.
Result<std::unique_ptr<Module>> make_module(ModuleContext ctx);

}  // namespace lt::providers
