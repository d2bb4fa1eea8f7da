#include "lt/cluster/forwarding_event_log.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "lt/core/time.hpp"

namespace asio = boost::asio;

namespace lt::cluster {

ForwardingEventLog::ForwardingEventLog(ports::EventLog& local, Forwarder& forwarder, asio::io_context& io,
                                       std::map<std::string, std::vector<std::string>> consumers,
                                       std::vector<std::string> hosted, Logger log)
    : local_(local), forwarder_(forwarder), io_(io), consumers_(std::move(consumers)), hosted_(std::move(hosted)),
      log_(std::move(log)) {}

bool ForwardingEventLog::hosted(const std::string& module) const {
    return std::find(hosted_.begin(), hosted_.end(), module) != hosted_.end();
}

Result<void> ForwardingEventLog::create_topic(std::string_view topic, int partitions) {
    return local_.create_topic(topic, partitions);
}

Result<ports::EventRecord> ForwardingEventLog::append(std::string_view topic, std::string_view key, std::string value) {
    auto it = consumers_.find(std::string(topic));
    if (it == consumers_.end()) return local_.append(topic, key, std::move(value));
    bool local_consumer = false;
    std::vector<std::string> remote;
    for (const auto& m : it->second) {
        if (hosted(m)) local_consumer = true;
        else remote.push_back(m);
    }
    if (!remote.empty()) {
        const auto payload = boost::json::serialize(boost::json::object{{"key", key}, {"value", value}});
        for (const auto& module : remote) {
            Call c;
            c.request.method = "POST";
            c.request.target = "/internal/events/" + std::string(topic);
            c.request.headers.push_back({"Content-Type", "application/json"});
            c.request.body = payload;
            c.request_id = new_uuid();
            c.deadline = std::chrono::steady_clock::now() + kForwardTimeout;
            auto fut = asio::co_spawn(io_, forwarder_.send(module, std::move(c), true), asio::use_future);
            auto res = fut.get();
            if (!res) return fail(res.error().code, "forward to " + module + ": " + res.error().message);
            if (res->status != 200) {
                return fail(Errc::unavailable, "forward to " + module + " answered status " + std::to_string(res->status));
            }
        }
    }
    if (local_consumer) return local_.append(topic, key, std::move(value));
    ports::EventRecord r;
    r.topic = std::string(topic);
    r.key = std::string(key);
    r.offset = -1;
    r.timestamp = std::chrono::system_clock::now();
    return r;
}

Result<std::vector<ports::EventRecord>> ForwardingEventLog::poll(std::string_view topic, std::string_view group,
                                                                 std::size_t max, std::chrono::milliseconds wait) {
    return local_.poll(topic, group, max, wait);
}

Result<void> ForwardingEventLog::commit(std::string_view group, const ports::EventRecord& record) {
    return local_.commit(group, record);
}

Result<void> ForwardingEventLog::seek(std::string_view group, const ports::EventRecord& record) {
    return local_.seek(group, record);
}

Result<std::int64_t> ForwardingEventLog::committed(std::string_view topic, std::string_view group, int partition) {
    return local_.committed(topic, group, partition);
}

}  // namespace lt::cluster
