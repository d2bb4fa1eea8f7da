#include "lt/core/broadcast_bridge.hpp"

#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "lt/bus/bus.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/event_consumer.hpp"
#include "lt/ports/event_log.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace lt {

struct BroadcastBridge::State {
    bus::Bus& bus;
    ports::EventLog& log;
    BlockingPool& blocking;
    asio::any_io_executor ex;
    std::vector<std::string> topics;
    std::string process_id;
    Logger logger;
    std::chrono::system_clock::time_point started_at{};
};

namespace {

constexpr auto kDeliverTimeout = std::chrono::seconds(5);
/// Records this much older than the process start are history (a new group reads from the start).
constexpr auto kHistorySlack = std::chrono::seconds(5);

/// Out side: appends a locally published event to the shared log (skips events that came from it).
asio::awaitable<Result<void>> send_out(std::shared_ptr<BroadcastBridge::State> s, bus::Message m) {
    if (!m.ctx.origin.empty()) co_return ok();  // came from the log: not sent back
    json::object record{{"origin", s->process_id}, {"topic", m.name}, {"body", m.body.json()}};
    auto value = json::serialize(record);
    auto append = [s, value = std::move(value)]() mutable -> Result<void> {
        auto a = s->log.append(BroadcastBridge::kTopic, s->process_id, std::move(value));
        if (!a) return fail(a.error());
        return ok();
    };
    auto op = s->blocking.run(std::move(append));  // no temporaries in co_await (docs/coding-notes.md)
    auto r = co_await std::move(op);
    if (!r) s->logger->warn("broadcast append failed topic={} error={}", m.name, r.error().message);
    co_return r;
}

asio::awaitable<Result<void>> deliver_in(std::shared_ptr<BroadcastBridge::State> s, std::string topic, json::value body,
                                         std::string origin) {
    bus::Context ctx;
    ctx.deadline = std::chrono::steady_clock::now() + kDeliverTimeout;
    ctx.origin = std::move(origin);
    auto op = s->bus.deliver_named(std::move(topic), std::move(body), std::move(ctx));
    co_return co_await std::move(op);
}

/// In side, on the consumer thread: delivers another process's event on the local bus.
Result<void> receive(const std::shared_ptr<BroadcastBridge::State>& s, const ports::EventRecord& record) {
    if (record.timestamp != std::chrono::system_clock::time_point{} &&
        record.timestamp + kHistorySlack < s->started_at) {
        return ok();
    }
    boost::system::error_code ec;
    auto v = json::parse(record.value, ec);
    const auto* o = ec ? nullptr : v.if_object();
    if (o == nullptr) return ok();  // not ours: skip, never block the log
    const auto* origin = o->if_contains("origin");
    const auto* topic = o->if_contains("topic");
    const auto* body = o->if_contains("body");
    if (origin == nullptr || !origin->is_string() || topic == nullptr || !topic->is_string() || body == nullptr) {
        return ok();
    }
    if (origin->as_string() == s->process_id) return ok();
    const std::string name(topic->as_string());
    if (std::find(s->topics.begin(), s->topics.end(), name) == s->topics.end()) return ok();
    auto fut = asio::co_spawn(s->ex, deliver_in(s, name, *body, std::string(origin->as_string())), asio::use_future);
    if (fut.wait_for(kDeliverTimeout + std::chrono::seconds(1)) != std::future_status::ready) {
        return fail(Errc::timeout, "broadcast delivery timed out");
    }
    auto r = fut.get();
    if (!r) s->logger->warn("broadcast delivery failed topic={} error={}", name, r.error().message);
    return ok();  // a local handler's failure is logged; redelivering would not help it
}

}  // namespace

BroadcastBridge::BroadcastBridge(bus::Bus& bus, ports::EventLog& log, BlockingPool& blocking, asio::any_io_executor ex,
                                 std::vector<std::string> topics, std::string process_id, Logger logger)
    : state_(std::make_shared<State>(
          State{bus, log, blocking, std::move(ex), std::move(topics), std::move(process_id), std::move(logger), {}})) {}

BroadcastBridge::~BroadcastBridge() { stop(); }

void BroadcastBridge::register_handlers() {
    for (const auto& topic : state_->topics) {
        auto s = state_;
        state_->bus.subscribe_named(topic, "broadcast", [s](bus::Message m) { return send_out(s, std::move(m)); });
    }
}

Result<void> BroadcastBridge::start() {
    state_->started_at = std::chrono::system_clock::now();
    // A cluster without the Admin API refuses this; the first poll then has the brokers create it.
    if (auto r = state_->log.create_topic(kTopic, 1); !r) {
        state_->logger->warn("broadcast topic not created topic={} error={}", kTopic, r.error().message);
    }
    EventConsumerOptions options;
    options.topic = kTopic;
    options.group = "broadcast-" + state_->process_id;
    options.poll_wait = std::chrono::milliseconds(100);
    auto s = state_;
    consumer_ = std::make_unique<EventConsumer>(
        state_->log, options, EventConsumer::Handler([s](const ports::EventRecord& r) { return receive(s, r); }),
        state_->logger);
    return consumer_->start();
}

void BroadcastBridge::stop() {
    if (consumer_) consumer_->stop();
}

}  // namespace lt
