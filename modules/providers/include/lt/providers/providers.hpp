#pragma once
/// Contract of the providers module: the stub providers (qwen, gemini, openai) and the upstream
/// adapter for real OpenAI-compatible APIs, reachable in-process through the bus command
/// `provider.chat.v1` and publicly at POST /api/v1/{provider}/chat.

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "lt/core/config.hpp"
#include "lt/core/module.hpp"
#include "lt/core/result.hpp"

namespace lt::providers {

/// Bus command: one chat call. Request ChatRequest, reply ChatReply. Errors: Errc::invalid_argument
/// (unknown provider), Errc::bad_gateway (provider answered 5xx or garbage), Errc::timeout,
/// Errc::unavailable (cannot connect).
inline constexpr std::string_view kChatCommand = "provider.chat.v1";

/// Bus command: one OpenAI-style chat completion. Request {"provider", "model" (the name the
/// provider serves), "messages" (OpenAI's array), "maxTokens" (completion limit, ≥ 1), "stream"
/// (bool), "user"?}. Reply {"id", "created" (Unix seconds), "model", "content", "finishReason"
/// ("stop" | "length"), "usage": {"promptTokens", "completionTokens"}, "chunks": [{"content",
/// "completionTokens"}] (the stream, in order; their tokens add up to usage.completionTokens),
/// "chunkDelayMs" (the pause before each chunk), "failAtChunk" (index of the chunk at which the
/// upstream breaks off, -1 when it does not)}. Errors as kChatCommand.
inline constexpr std::string_view kCompletionCommand = "provider.completion.v1";

/// Bus command: the models each provider serves. Request {}; reply {"providers": {"<name>":
/// ["model", ...]}} (providers.<name>.models), and "settings": {"<name>": {"fallback": name | null,
/// "maxCompletionTokens"}} (providers.<name>.fallback, .max-completion-tokens).
inline constexpr std::string_view kModelsCommand = "provider.models.v1";

/// Bus command: opens a streamed completion. Request as kCompletionCommand (plus "extra": fields of
/// the caller's request passed to the upstream untouched). A stub provider answers exactly as
/// kCompletionCommand (the simulated stream in "chunks"); an openai-compatible one answers once the
/// upstream's response headers arrived: {"session", "id", "created", "model", "idleTimeoutMs"}; the
/// body is then read with kStreamNextCommand. Errors as kChatCommand, plus Errc::rate_limited when
/// the upstream itself answered 429.
inline constexpr std::string_view kStreamOpenCommand = "provider.completion.open.v1";

/// Bus command: the next batch of a stream session. Request {"session"}; waits at most the
/// provider's idle-timeout; reply {"events": [{"delta": {...}, "tokens": n}], "finishReason"?,
/// "usage"?: {"promptTokens", "completionTokens"}, "done": bool, "error"?: message}. `tokens` is
/// the upstream's running count when it sends usage in every chunk, else 1 per chunk with output.
/// The session ends with a batch that is done or has an error. Errc::not_found: no such session.
inline constexpr std::string_view kStreamNextCommand = "provider.completion.next.v1";

/// Bus command: stops a stream session (closes the upstream connection). Request {"session"}; reply {}.
inline constexpr std::string_view kStreamCloseCommand = "provider.completion.close.v1";

/// The providers this build knows, lower-case.
inline constexpr std::array<std::string_view, 3> kKnownProviders{"qwen", "gemini", "openai"};

/// True for a known provider name (case-insensitive).
bool is_known_provider(std::string_view name);

struct ChatRequest {
    std::string provider;       ///< lower-case
    boost::json::object body;   ///< the chat request, e.g. {"prompt": "Hello"}
};

struct Usage {
    long long prompt_tokens = 0;
    long long completion_tokens = 0;
    long long total_tokens = 0;
};

struct ChatReply {
    boost::json::object response;  ///< the provider's JSON object ({"id","provider","received","created","message","usage"})
    Usage usage;
};

boost::json::value to_json(const ChatRequest& r);
Result<ChatRequest> chat_request_from_json(const boost::json::value& v);
boost::json::value to_json(const ChatReply& r);
Result<ChatReply> chat_reply_from_json(const boost::json::value& v);

/// Declares providers.* configuration keys.
void describe_config(config::Schema& schema);

/// The module factory.
Result<std::unique_ptr<Module>> make_module(ModuleContext ctx);

}  // namespace lt::providers
