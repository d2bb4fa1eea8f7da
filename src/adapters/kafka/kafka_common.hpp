#pragma once
/// Internal to the Kafka adapter: librdkafka configuration, error mapping and the callbacks every
/// handle shares (errors, logs, broker reachability).

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lt/adapters/kafka_event_log.hpp"

namespace lt::adapters::kafka {

/// What a handle's callbacks reach through rd_kafka_opaque(): set as the conf opaque of every handle.
struct HandleOwner {
    std::atomic<bool>* available = nullptr;  ///< the log's reachability flag
    Logger logger;                           ///< never null (a sink-less logger when none is given)
    std::string name;                        ///< "producer" or "consumer <group>", for the logs
};

struct ConfDeleter {
    void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct PartitionListDeleter {
    void operator()(rd_kafka_topic_partition_list_t* list) const { rd_kafka_topic_partition_list_destroy(list); }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct QueueDeleter {
    void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
};
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;

struct EventDeleter {
    void operator()(rd_kafka_event_t* event) const { rd_kafka_event_destroy(event); }
};
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

/// A configuration with the brokers, client id, KafkaOptions::properties, `settings` (applied last)
/// and the shared error and log callbacks with `owner` as opaque. invalid_argument when librdkafka
/// refuses a property.
Result<ConfPtr> make_conf(const std::string& brokers, const KafkaOptions& options,
                          const std::vector<std::pair<std::string, std::string>>& settings, HandleOwner* owner);

/// The port's error category for a librdkafka error.
Errc errc_for(rd_kafka_resp_err_t err);

/// An Error saying what failed and why.
Error kafka_error(rd_kafka_resp_err_t err, std::string_view what);

/// Milliseconds as librdkafka's int timeouts (clamped to [0, INT_MAX]).
int to_ms(std::chrono::milliseconds ms);

/// A one-partition list.
PartitionListPtr one_partition(const std::string& topic, int partition, std::int64_t offset);

}  // namespace lt::adapters::kafka
