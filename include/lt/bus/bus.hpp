#pragma once
/// The message bus: request/reply commands and publish/subscribe events between modules.
///
/// Typed: each module's contract header declares its commands and events once as descriptors
/// (`Command<Request, Reply>`, `Event<T>`, versioned names such as `provider.chat.v1`) with one codec per
/// DTO. In one process a call moves the C++ values (Payload); only the remote transport and the event
/// log encode them. The codec check (`bus.codec-check`) encodes and decodes every message in-process
/// so a codec that loses a field fails in one process the same way it would across processes.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "lt/bus/payload.hpp"
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
    /// Process id an event came from when the broadcast bridge delivered it (never on the wire);
    /// empty for a local message.
    std::string origin;
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

/// A command's descriptor: its versioned name and, as types, its request and reply DTOs. Declared
/// once in the owning module's contract header.
template <class Request, class Reply>
struct Command {
    using request_type = Request;
    using reply_type = Reply;
    std::string_view name;
};

/// An event's descriptor: its versioned topic and its DTO.
template <class T>
struct Event {
    using type = T;
    std::string_view name;
};

/// An empty request or event body ({}).
struct Empty {
    bool operator==(const Empty&) const = default;
};
void tag_invoke(json::value_from_tag, json::value& v, const Empty&);
Empty tag_invoke(json::value_to_tag<Empty>, const json::value& v);

/// A command or an event in flight.
struct Message {
    std::string name;  ///< command name or event topic
    Payload body;
    Context ctx;
};

using CommandHandler = std::function<boost::asio::awaitable<Result<Payload>>(Message)>;
using EventHandler = std::function<boost::asio::awaitable<Result<void>>(Message)>;

namespace detail {
template <class Req, class Rep, class F>
boost::asio::awaitable<Result<Payload>> invoke_command(std::shared_ptr<F> fn, std::string_view name, Message m) {
    auto req = std::move(m.body).template take<Req>(name);
    if (!req) co_return fail(req.error());
    auto op = (*fn)(std::move(*req), std::move(m.ctx));
    auto rep = co_await std::move(op);
    if (!rep) co_return fail(rep.error());
    co_return Payload::of<Rep>(std::move(*rep));
}

template <class T, class F>
boost::asio::awaitable<Result<void>> invoke_event(std::shared_ptr<F> fn, std::string_view name, Message m) {
    auto event = std::move(m.body).template take<T>(name);
    if (!event) co_return fail(event.error());
    auto op = (*fn)(std::move(*event), std::move(m.ctx));
    co_return co_await std::move(op);
}
}  // namespace detail

/// The bus port. Registration happens before start (single-threaded); calls and publishes may come
/// from any executor afterwards. Modules use the typed members (call, handle, publish, deliver,
/// subscribe with a descriptor); the `*_named` members carry payloads by name for transports (the
/// kernel's internal endpoint, the broadcast bridge) and tests.
class Bus {
public:
    virtual ~Bus() = default;

    /// Registers the handler of command `name`. One handler per name.
    virtual void handle_named(std::string name, CommandHandler handler) = 0;
    /// True when a handler for `name` is reachable (locally or through a transport).
    virtual bool has_handler(const std::string& name) const = 0;

    /// Sends command `name` and awaits its reply. Errc::not_found when nobody handles it,
    /// Errc::timeout when the context deadline has passed.
    virtual boost::asio::awaitable<Result<Payload>> call_named(std::string name, Payload body, Context ctx) = 0;

    /// Publishes an event to every consumer group subscribed to `topic` (each group gets it once).
    /// Non-blocking: Errc::unavailable when a group's bounded queue is full.
    virtual Result<void> publish_named(std::string topic, Payload event, Context ctx) = 0;

    /// Delivers an event to every subscribed group and completes only when each group's handler
    /// finished (one handler per group). For events whose effect must be visible before the
    /// publisher answers, e.g. an API key revocation (CONTRACT.md item 13). Returns the first
    /// handler error.
    virtual boost::asio::awaitable<Result<void>> deliver_named(std::string topic, Payload event, Context ctx) = 0;

    /// Subscribes `handler` to `topic` within consumer `group`. Handlers of one group share the
    /// events; a failed handler is logged and counted (the durable EventLog port is the place for
    /// redelivery).
    virtual void subscribe_named(std::string topic, std::string group, EventHandler handler) = 0;

    /// Calls command `cmd` with `request`: the reply DTO, or the handler's error (Errc::bad_gateway for
    /// a reply that does not decode). In one process the request and the reply are moved, not encoded.
    template <class Req, class Rep>
    boost::asio::awaitable<Result<Rep>> call(Command<Req, Rep> cmd, Req request, Context ctx) {
        auto op = call_named(std::string(cmd.name), Payload::of<Req>(std::move(request)), std::move(ctx));
        auto r = co_await std::move(op);
        if (!r) co_return fail(r.error());
        auto reply = std::move(*r).template take<Rep>(cmd.name);
        if (!reply) co_return fail(Errc::bad_gateway, "reply of " + reply.error().message);  // the handler's side answered garbage
        co_return reply;
    }

    /// Registers `handler` for command `cmd`: callable as
    /// `(Req, Context) -> awaitable<Result<Rep>>` (a non-coroutine lambda calling a member coroutine,
    /// so that no coroutine lambda's captures dangle).
    template <class Req, class Rep, class F>
    void handle(Command<Req, Rep> cmd, F handler) {
        auto fn = std::make_shared<F>(std::move(handler));
        const std::string_view name = cmd.name;
        handle_named(std::string(name), [fn, name](Message m) {
            return detail::invoke_command<Req, Rep, F>(fn, name, std::move(m));
        });
    }

    /// Publishes `event` (see publish_named).
    template <class T>
    Result<void> publish(Event<T> ev, T event, Context ctx) {
        return publish_named(std::string(ev.name), Payload::of<T>(std::move(event)), std::move(ctx));
    }

    /// Delivers `event` and awaits its handlers (see deliver_named).
    template <class T>
    boost::asio::awaitable<Result<void>> deliver(Event<T> ev, T event, Context ctx) {
        auto op = deliver_named(std::string(ev.name), Payload::of<T>(std::move(event)), std::move(ctx));
        co_return co_await std::move(op);
    }

    /// Subscribes `handler`, callable as `(T, Context) -> awaitable<Result<void>>`, to event `ev` within
    /// consumer `group`.
    template <class T, class F>
    void subscribe(Event<T> ev, std::string group, F handler) {
        auto fn = std::make_shared<F>(std::move(handler));
        const std::string_view name = ev.name;
        subscribe_named(std::string(name), std::move(group), [fn, name](Message m) {
            return detail::invoke_event<T, F>(fn, name, std::move(m));
        });
    }
};

}  // namespace lt::bus
