#pragma once
/// ForwardingEventLog: the EventLog of a split-mode process over the in-memory log (no Kafka). An
/// append to a topic that modules hosted in other processes consume (`token-usage` → analytics;
/// `token-purchase-events` → analytics and token) is forwarded to one UP instance of each remote
/// consuming module (`POST /internal/events/<topic>`, appended there into that process's own log) and
/// succeeds only when every forward succeeded; the producer (the outbox relay) retries otherwise, so
/// delivery is at-least-once and consumers dedupe by event id. The local log keeps the record only
/// when a consumer of the topic is hosted here. Everything else goes to the local log.
/// append() blocks up to kForwardTimeout per consumer: call it off the I/O threads (the relay's thread).

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "lt/cluster/forwarder.hpp"
#include "lt/core/log.hpp"
#include "lt/ports/event_log.hpp"

namespace lt::cluster {

/// Deadline of one forwarded append.
inline constexpr std::chrono::milliseconds kForwardTimeout{5000};

class ForwardingEventLog final : public ports::EventLog {
public:
    /// `consumers`: topic → modules consuming it. `hosted`: the modules of this process. `local`,
    /// `forwarder` and `io` outlive this object.
    ForwardingEventLog(ports::EventLog& local, Forwarder& forwarder, boost::asio::io_context& io,
                       std::map<std::string, std::vector<std::string>> consumers, std::vector<std::string> hosted,
                       Logger log);

    Result<void> create_topic(std::string_view topic, int partitions) override;
    Result<ports::EventRecord> append(std::string_view topic, std::string_view key, std::string value) override;
    Result<std::vector<ports::EventRecord>> poll(std::string_view topic, std::string_view group, std::size_t max,
                                                 std::chrono::milliseconds wait) override;
    Result<void> commit(std::string_view group, const ports::EventRecord& record) override;
    Result<void> seek(std::string_view group, const ports::EventRecord& record) override;
    Result<std::int64_t> committed(std::string_view topic, std::string_view group, int partition) override;
    bool durable() const override { return local_.durable(); }

private:
    bool hosted(const std::string& module) const;

    ports::EventLog& local_;
    Forwarder& forwarder_;
    boost::asio::io_context& io_;
    std::map<std::string, std::vector<std::string>> consumers_;
    std::vector<std::string> hosted_;
    Logger log_;
};

}  // namespace lt::cluster
