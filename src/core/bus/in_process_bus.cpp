#include "lt/bus/in_process_bus.hpp"

#include <deque>
#include <exception>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "lt/core/metrics.hpp"
#include "lt/core/request_scope.hpp"
#include "lt/core/tracer.hpp"

namespace asio = boost::asio;

namespace lt::bus {

struct InProcessBus::Group {
    std::string topic;
    std::string name;
    std::vector<EventHandler> handlers;  ///< written before start only
    std::mutex mutex;                    ///< guards queue, running, next
    std::deque<Message> queue;
    bool running = false;
    std::size_t next = 0;
};

namespace {

asio::awaitable<void> drain_group(std::shared_ptr<InProcessBus::Group> group, Logger log, std::atomic<std::size_t>* pending,
                                  Counter* failures) {
    for (;;) {
        Message msg;
        EventHandler handler;
        {
            std::lock_guard lock(group->mutex);
            if (group->queue.empty()) {
                group->running = false;
                co_return;
            }
            msg = std::move(group->queue.front());
            group->queue.pop_front();
            handler = group->handlers[group->next++ % group->handlers.size()];
        }
        Result<void> r = fail(Errc::internal, "handler threw");
        try {
            auto op = handler(std::move(msg));  // see docs/coding-notes.md: no temporaries in co_await
            r = co_await std::move(op);
        } catch (const std::exception& e) {
            r = fail(Errc::internal, e.what());
        }
        if (!r) {
            if (failures) failures->inc();
            log->warn("event handler failed topic={} group={} error={}", group->topic, group->name, r.error().message);
        }
        pending->fetch_sub(1);
    }
}

}  // namespace

InProcessBus::InProcessBus(asio::any_io_executor ex, Logger log, MetricsRegistry* metrics, std::size_t queue_capacity)
    : ex_(std::move(ex)), log_(std::move(log)), metrics_(metrics), queue_capacity_(queue_capacity) {}

InProcessBus::~InProcessBus() = default;

void InProcessBus::set_tracer(Tracer* tracer) { tracer_ = tracer && tracer->enabled() ? tracer : nullptr; }

void InProcessBus::handle_named(std::string name, CommandHandler handler) {
    handlers_[std::move(name)] = std::move(handler);
}

Result<Payload> InProcessBus::checked(const std::string& name, Payload p) const {
    if (!codec_check_) return p;
    auto r = p.round_trip(name);
    if (!r) {
        log_->error("bus codec check failed message={} error={}", name, r.error().message);
        if (metrics_) {
            metrics_->counter("lt_bus_codec_check_failures_total", "Messages changed by their codec (bus.codec-check)",
                              {"message"})
                .labels({name})
                .inc();
        }
    }
    return r;
}

bool InProcessBus::has_handler(const std::string& name) const { return handlers_.count(name) != 0; }

asio::awaitable<Result<Payload>> InProcessBus::call_named(std::string name, Payload body, Context ctx) {
    auto it = handlers_.find(name);
    if (it == handlers_.end()) co_return fail(Errc::not_found, "no handler for command " + name);
    if (ctx.remaining_ms() <= 0) co_return fail(Errc::timeout, "deadline passed before " + name);
    // The command's span (the provider call is provider.chat.v1): the handler's calls are its children.
    Span span;
    if (tracer_) {
        span = tracer_->start(name, ctx.traceparent, SpanKind::internal);
        ctx.traceparent = span.traceparent();
    }
    // The handler's store calls are children of this span (request_scope.hpp).
    std::optional<TraceparentSwap> swap;
    if (span.recording()) swap.emplace(ctx.traceparent);
    try {
        auto request = checked(name, std::move(body));
        if (!request) {
            span.set_error(request.error().message);
            co_return fail(request.error());
        }
        auto op = it->second(Message{name, std::move(*request), std::move(ctx)});
        auto reply = co_await std::move(op);
        if (!reply) span.set_error(reply.error().message);
        if (!reply || !codec_check_) co_return reply;
        co_return checked(name + " reply", std::move(*reply));
    } catch (const std::exception& e) {
        log_->error("command handler threw command={} error={}", it->first, e.what());
        co_return fail(Errc::internal, "internal error");
    }
}

Result<void> InProcessBus::publish_named(std::string topic, Payload event_in, Context ctx) {
    auto wire = checked(topic, std::move(event_in));
    if (!wire) return fail(wire.error());
    auto event = std::move(*wire);
    std::vector<std::shared_ptr<Group>> groups;
    {
        std::lock_guard lock(subs_mutex_);
        auto it = topics_.find(topic);
        if (it == topics_.end()) return ok();
        groups = it->second;
    }
    bool dropped = false;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        auto& g = groups[i];
        bool start = false;
        {
            std::lock_guard lock(g->mutex);
            if (g->queue.size() >= queue_capacity_) {
                dropped = true;
                continue;
            }
            // The last group may take the event itself; the others get copies.
            g->queue.push_back(Message{topic, i + 1 == groups.size() ? std::move(event) : event, ctx});
            pending_.fetch_add(1);
            if (!g->running) {
                g->running = true;
                start = true;
            }
        }
        if (start) {
            Counter* failures = metrics_ ? &metrics_->counter("lt_bus_event_failures_total", "Event handlers that failed",
                                                               {"topic", "group"})
                                                .labels({g->topic, g->name})
                                         : nullptr;
            asio::co_spawn(ex_, drain_group(g, log_, &pending_, failures), asio::detached);
        }
    }
    if (dropped) return fail(Errc::unavailable, "event queue full for topic " + topic);
    return ok();
}

asio::awaitable<Result<void>> InProcessBus::deliver_named(std::string topic, Payload event_in, Context ctx) {
    auto wire = checked(topic, std::move(event_in));
    if (!wire) co_return fail(wire.error());
    auto event = std::move(*wire);
    std::vector<std::pair<std::shared_ptr<Group>, EventHandler>> targets;
    {
        std::lock_guard lock(subs_mutex_);
        auto it = topics_.find(topic);
        if (it == topics_.end()) co_return ok();
        for (auto& g : it->second) {
            std::lock_guard glock(g->mutex);
            targets.emplace_back(g, g->handlers[g->next++ % g->handlers.size()]);
        }
    }
    Result<void> first = ok();
    for (auto& [group, handler] : targets) {
        Result<void> r = ok();
        try {
            auto op = handler(Message{topic, event, ctx});
            r = co_await std::move(op);
        } catch (const std::exception& e) {
            r = fail(Errc::internal, e.what());
        }
        if (!r) {
            log_->warn("event handler failed topic={} group={} error={}", topic, group->name, r.error().message);
            if (first) first = r;
        }
    }
    co_return first;
}

void InProcessBus::subscribe_named(std::string topic, std::string group, EventHandler handler) {
    std::lock_guard lock(subs_mutex_);
    auto& groups = topics_[topic];
    for (auto& g : groups) {
        if (g->name == group) {
            g->handlers.push_back(std::move(handler));
            return;
        }
    }
    auto g = std::make_shared<Group>();
    g->topic = std::move(topic);
    g->name = std::move(group);
    g->handlers.push_back(std::move(handler));
    groups.push_back(std::move(g));
}

}  // namespace lt::bus
