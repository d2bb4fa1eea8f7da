#pragma once
/// BroadcastBridge: carries the bus events that every process must see (API-key revocations, revoked
/// JWTs, rotated signing keys, changed roles) between processes sharing one durable event log (Kafka
/// in the production profile), so that a key revoked through one gateway process is refused by every
/// other within one poll (CONTRACT 13, 30).
///
/// Out: the bridge subscribes (group "broadcast") to each bridged topic on the local bus; an event
/// published here is appended to the event-log topic `lt-broadcast` as {"origin", "topic", "body"}
/// before the publisher's deliver() completes. In: a consumer thread reads `lt-broadcast` with a
/// group of its own (one per process: every process receives every record), skips its own records
/// and records older than its start, and delivers the others on the local bus with "_origin" added to
/// the body, which the out side recognises and does not send again.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "lt/core/log.hpp"
#include "lt/core/result.hpp"

namespace lt {
class BlockingPool;
class EventConsumer;
namespace bus {
class Bus;
}
namespace ports {
class EventLog;
}

class BroadcastBridge {
public:
    /// The event-log topic every process reads.
    static constexpr const char* kTopic = "lt-broadcast";

    /// `process_id` is unique per process (its consumer group is "broadcast-<process_id>"). Every
    /// reference must outlive the bridge. Owning thread.
    BroadcastBridge(bus::Bus& bus, ports::EventLog& log, BlockingPool& blocking, boost::asio::any_io_executor ex,
                    std::vector<std::string> topics, std::string process_id, Logger logger);
    ~BroadcastBridge();
    BroadcastBridge(const BroadcastBridge&) = delete;
    BroadcastBridge& operator=(const BroadcastBridge&) = delete;

    /// Subscribes to the bridged topics (before the bus starts). Owning thread.
    void register_handlers();
    /// Creates the topic and starts the consumer thread. Owning thread.
    Result<void> start();
    /// Stops the consumer thread. Idempotent. Owning thread.
    void stop();

    struct State;

private:
    std::shared_ptr<State> state_;
    std::unique_ptr<EventConsumer> consumer_;
};

}  // namespace lt
