#pragma once
/// InProcessBus: the Bus when caller and handler live in the same process. Commands are direct
/// coroutine calls; events go through one bounded queue per (topic, consumer group), drained in
/// order by one coroutine at a time. Payloads are moved, never encoded, unless the codec check is on.

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "lt/bus/bus.hpp"
#include "lt/core/log.hpp"

namespace lt {
class MetricsRegistry;
}

namespace lt {
class Tracer;
}

namespace lt::bus {

class InProcessBus final : public Bus {
public:
    /// `ex`: executor that runs event handlers. `queue_capacity`: per consumer group.
    InProcessBus(boost::asio::any_io_executor ex, Logger log, MetricsRegistry* metrics,
                 std::size_t queue_capacity = 10000);
    ~InProcessBus() override;

    void handle_named(std::string name, CommandHandler handler) override;
    bool has_handler(const std::string& name) const override;
    boost::asio::awaitable<Result<Payload>> call_named(std::string name, Payload body, Context ctx) override;
    Result<void> publish_named(std::string topic, Payload event, Context ctx) override;
    boost::asio::awaitable<Result<void>> deliver_named(std::string topic, Payload event, Context ctx) override;
    void subscribe_named(std::string topic, std::string group, EventHandler handler) override;

    /// Codec check (`bus.codec-check`): every request, reply and event is encoded, serialized, parsed
    /// and decoded through its codec before it reaches its receiver; a message that changes on the way
    /// fails with Errc::internal (logged, counted in lt_bus_codec_check_failures_total). Set before start.
    void set_codec_check(bool on) { codec_check_ = on; }
    bool codec_check() const { return codec_check_; }

    /// Gives every command call a span (child of the caller's traceparent) from `tracer`, which must
    /// outlive the bus; null or disabled: none. Before start.
    void set_tracer(Tracer* tracer);

    /// Events queued or being handled right now (all groups).
    std::size_t pending_events() const { return pending_.load(); }

    struct Group;

private:
    /// The payload as a receiver in another process would get it (codec check on), or itself.
    Result<Payload> checked(const std::string& name, Payload p) const;

    boost::asio::any_io_executor ex_;
    Logger log_;
    MetricsRegistry* metrics_;
    Tracer* tracer_ = nullptr;
    std::size_t queue_capacity_;
    bool codec_check_ = false;
    std::unordered_map<std::string, CommandHandler> handlers_;  ///< written before start only
    mutable std::mutex subs_mutex_;                              ///< guards topics_
    std::map<std::string, std::vector<std::shared_ptr<Group>>> topics_;
    std::atomic<std::size_t> pending_{0};
};

}  // namespace lt::bus
