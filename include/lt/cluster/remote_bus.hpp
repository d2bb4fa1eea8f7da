#pragma once
/// RemoteBus: the Bus of a process in split mode. It wraps the in-process bus, and is the one place a
/// bus payload is encoded to JSON (Payload::json()) for another process:
/// - call(): the local handler when this process hosts the command, else
///   `POST /internal/bus/call/<name>` (JSON {"body","ctx"}; the principal travels only in the signed
///   X-Lt-Principal header, the deadline as ctx.timeoutMs) to an UP instance of the owning module
///   (owner_of_command), with the Forwarder's round-robin, breaker and retry. Reply: 200 {"body"} or an
///   error status with {"code","message"}. No instance → Errc::unavailable; past the deadline →
///   Errc::timeout.
/// - publish()/deliver(): the local subscribers, and `POST /internal/bus/event/<topic>` to every other
///   process in the directory (deliver awaits them all in parallel, each within min(deadline,
///   kEventTimeout); a failed
///   peer is logged and does not fail the delivery).
/// Thread-safe after registration.

#include <functional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "lt/bus/bus.hpp"
#include "lt/bus/in_process_bus.hpp"
#include "lt/cluster/forwarder.hpp"
#include "lt/core/cluster.hpp"
#include "lt/core/log.hpp"

namespace lt::cluster {

/// Deadline of one event delivery to one peer process.
inline constexpr std::chrono::milliseconds kEventTimeout{1000};

/// {"body","ctx"} wire form of a bus message crossing processes (the ctx without its principal).
std::string encode_bus_message(const boost::json::value& body, const bus::Context& ctx);

class RemoteBus final : public bus::Bus {
public:
    /// `local`, `directory`, `forwarder` outlive this bus. `self_url()` returns this process's
    /// advertise URL (so broadcasts skip it).
    RemoteBus(bus::InProcessBus& local, const Directory& directory, Forwarder& forwarder,
              std::function<std::string()> self_url, boost::asio::any_io_executor ex, Logger log);

    void handle_named(std::string name, bus::CommandHandler handler) override;
    bool has_handler(const std::string& name) const override;
    boost::asio::awaitable<Result<bus::Payload>> call_named(std::string name, bus::Payload body, bus::Context ctx) override;
    Result<void> publish_named(std::string topic, bus::Payload event, bus::Context ctx) override;
    boost::asio::awaitable<Result<void>> deliver_named(std::string topic, bus::Payload event, bus::Context ctx) override;
    void subscribe_named(std::string topic, std::string group, bus::EventHandler handler) override;

private:
    /// One instance per other process (distinct URLs), this process excluded.
    std::vector<Instance> peers() const;
    boost::asio::awaitable<void> send_event(Instance peer, std::string topic, std::string payload, bus::Context ctx);

    bus::InProcessBus& local_;
    const Directory& directory_;
    Forwarder& forwarder_;
    std::function<std::string()> self_url_;
    boost::asio::any_io_executor ex_;
    Logger log_;
};

}  // namespace lt::cluster
