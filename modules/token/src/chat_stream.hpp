#pragma once
/// Streamed chat completions (server-sent events), metered by ChatMetering: the stub's simulated
/// stream (played from one reply) and a live openai-compatible upstream stream (read batch by batch
/// from the providers module's stream session as it arrives).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "chat_metering.hpp"
#include "lt/bus/bus.hpp"
#include "lt/core/log.hpp"
#include "lt/http/message.hpp"
#include "lt/providers/providers.hpp"
#include "provider_caller.hpp"

namespace lt::token {

/// A parsed /v1/chat/completions request.
struct ChatCall {
    std::string model;                   ///< as the caller wrote it
    boost::json::array messages;
    std::optional<std::int64_t> limit;   ///< max_completion_tokens, else max_tokens; unset: the provider's default
    bool stream = false;
    bool include_usage = false;
    std::optional<std::string> user;
    std::optional<std::string> org;      ///< X-Org-Id: the org's pool pays
    boost::json::object extra;           ///< every other field, passed upstream untouched
};

/// Where a model goes: the provider, the name it serves, its default completion limit and its
/// fallback route (one hop; `next` has none).
struct ChatRoute {
    std::string provider;
    std::string upstream_model;
    std::int64_t default_limit = 4096;   ///< providers.<p>.max-completion-tokens
    std::optional<std::string> fallback; ///< providers.<p>.fallback
    std::shared_ptr<ChatRoute> next;     ///< the fallback's route
};

/// One attempt on one provider: the answer, or none when the fallback should take over.
struct ChatAttempt {
    std::optional<http::Response> response;
};

/// Everything a streamed completion needs after the handler returned.
struct StreamJob {
    ChatMetering* metering = nullptr;
    ProviderCaller* caller = nullptr;  ///< live streams: reads the session
    Logger log;
    ChatAdmission admission;
    providers::CompletionReply reply;  ///< simulated: the provider's kCompletion reply
    std::string id;
    std::string model;          ///< as the caller wrote it
    std::string provider;       ///< the provider serving it
    std::int64_t created = 0;
    bool include_usage = false;
    std::string session;                 ///< live: the providers module's stream session
    std::chrono::milliseconds idle{30000};
    std::int64_t prompt_estimate = 0;    ///< live: prompt tokens charged when the upstream reports none
    bus::Context ctx;                    ///< ids and principal for the bus calls of a live stream
};

/// {"prompt_tokens", "completion_tokens", "total_tokens"}.
boost::json::object usage_json(std::int64_t prompt, std::int64_t completion);

/// Plays the stub's simulated stream, stopping at the reserved completion tokens, and settles what
/// was produced whatever happens. Runs on the connection's executor.
boost::asio::awaitable<void> run_stream(std::shared_ptr<StreamJob> job, http::BodyWriter& out);

/// Forwards a live upstream stream chunk by chunk as it arrives and settles exactly: the upstream's
/// reported usage when it sends it; else (it broke off, or the gateway cut it at the reservation)
/// the prompt estimate plus the chunks counted. A client that disconnects stops the forwarding, not
/// the reading: the stream is read to its end for the usage (`client_disconnected`). Runs on the
/// connection's executor.
boost::asio::awaitable<void> run_live_stream(std::shared_ptr<StreamJob> job, http::BodyWriter& out);

}  // namespace lt::token
