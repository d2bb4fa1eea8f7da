#pragma once
/// The message bus: request/reply commands and publish/subscribe events between modules.
///
/// Messages are plain JSON values (DTOs are converted with Boost.JSON value_from/value_to), so the
/// in-process bus and the HTTP transport of split mode carry exactly the same bytes' meaning.
/// Command names and event topics are versioned: `provider.chat.v1`, `token.usage.v1`.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "lt/core/result.hpp"

namespace lt::bus {

namespace json = boost::json;

/// Who is making a request, as verified by the gateway.
struct Principal {
    std::string user_id;             ///< canonical lower-case UUID
    std::vector<std::string> roles;  ///< sorted role names, e.g. {"ADMIN","USER"}
    std::string method;              ///< "jwt" | "api_key" | "client_credentials"
    bool has_role(std::string_view role) const;
};

/// Per-request context propagated on every message.
struct Context {
    std::string request_id;
    std::string correlation_id;
    /// Absolute deadline; a handler should give up (Errc::timeout) past it.
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::optional<Principal> principal;
    /// W3C traceparent of the caller's span ("" = not traced); carried on the wire as "traceparent".
    std::string traceparent;

    /// Milliseconds left until the deadline (negative when past; large when none).
    long long remaining_ms() const;
    /// A context with the same ids and principal, deadline `timeout` from now (or the current one if
    /// sooner).
    Context with_timeout(std::chrono::milliseconds timeout) const;
};

json::value to_json(const Principal& p);
Result<Principal> principal_from_json(const json::value& v);
/// Wire form: {"requestId","correlationId","timeoutMs","principal","traceparent"} (relative deadline).
json::value to_json(const Context& c);
Context context_from_json(const json::value& v);

/// A command or an event in flight.
struct Message {
    std::string name;  ///< command name or event topic
    json::value body;
    Context ctx;
};

using CommandHandler = std::function<boost::asio::awaitable<Result<json::value>>(Message)>;
using EventHandler = std::function<boost::asio::awaitable<Result<void>>(Message)>;

/// The bus port. Registration happens before start (single-threaded); calls and publishes may come
/// from any executor afterwards.
class Bus {
public:
    virtual ~Bus() = default;

    /// Registers the handler of command `name`. One handler per name.
    virtual void handle(std::string name, CommandHandler handler) = 0;
    /// True when a handler for `name` is reachable (locally or through a transport).
    virtual bool has_handler(const std::string& name) const = 0;

    /// Sends command `name` and awaits its reply. Errc::not_found when nobody handles it,
    /// Errc::timeout when the context deadline has passed.
    virtual boost::asio::awaitable<Result<json::value>> call(std::string name, json::value body, Context ctx) = 0;

    /// Publishes an event to every consumer group subscribed to `topic` (each group gets it once).
    /// Non-blocking: Errc::unavailable when a group's bounded queue is full.
    virtual Result<void> publish(std::string topic, json::value event, Context ctx) = 0;

    /// Delivers an event to every subscribed group and completes only when each group's handler
    /// finished (one handler per group). For events whose effect must be visible before the
    /// publisher answers, e.g. an API key revocation (CONTRACT.md item 13). Returns the first
    /// handler error.
    virtual boost::asio::awaitable<Result<void>> deliver(std::string topic, json::value event, Context ctx) = 0;

    /// Subscribes `handler` to `topic` within consumer `group`. Handlers of one group share the
    /// events; a failed handler is logged and counted (the durable EventLog port is the place for
    /// redelivery).
    virtual void subscribe(std::string topic, std::string group, EventHandler handler) = 0;
};

}  // namespace lt::bus
