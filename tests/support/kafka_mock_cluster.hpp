#pragma once
/// librdkafka's mock cluster hosted in the test process: the real Kafka protocol on real loopback
/// sockets (produce, fetch, consumer groups, offsets), no broker to install. Link PkgConfig::RDKAFKA.
///
///     lt::test::KafkaMockCluster cluster;                       // 3 brokers
///     auto log = lt::adapters::KafkaEventLog::open(cluster.bootstrap_servers(), cluster.adapter_options());
///
/// The mock has no CreateTopics: adapter_options() routes topic creation to rd_kafka_mock_topic_create.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

#include "lt/adapters/kafka_event_log.hpp"
#include "lt/core/result.hpp"

namespace lt::test {

class KafkaMockCluster {
public:
    /// Starts `brokers` mock brokers (ids 1..brokers) on free loopback ports. Throws std::runtime_error
    /// when librdkafka cannot. Test thread.
    explicit KafkaMockCluster(int brokers = 3) : brokers_(brokers) {
        char error[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        // The hosting handle never connects anywhere: silence its "no bootstrap.servers" warning.
        rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
        host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
        if (!host_) {
            rd_kafka_conf_destroy(conf);
            throw std::runtime_error(std::string("mock cluster host: ") + error);
        }
        cluster_ = rd_kafka_mock_cluster_new(host_, brokers);
        if (!cluster_) {
            rd_kafka_destroy(host_);
            throw std::runtime_error("rd_kafka_mock_cluster_new failed");
        }
        bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
    }
    ~KafkaMockCluster() {
        rd_kafka_mock_cluster_destroy(cluster_);
        rd_kafka_destroy(host_);
    }
    KafkaMockCluster(const KafkaMockCluster&) = delete;
    KafkaMockCluster& operator=(const KafkaMockCluster&) = delete;

    /// `host:port,host:port,...` of the brokers.
    const std::string& bootstrap_servers() const { return bootstrap_; }
    /// Number of brokers (ids 1..count).
    int broker_count() const { return brokers_; }
    /// The librdkafka mock handle, for rd_kafka_mock_* calls the methods below do not cover.
    rd_kafka_mock_cluster_t* handle() { return cluster_; }

    /// Creates a topic (replication min(3, brokers)); one that exists already is success. Any thread.
    Result<void> create_topic(std::string_view topic, int partitions) {
        const std::string name(topic);
        const auto err = rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, brokers_ < 3 ? brokers_ : 3);
        if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            return fail(Errc::internal, "mock topic " + name + ": " + rd_kafka_err2str(err));
        }
        return ok();
    }
    /// Disconnects broker `id` and refuses new connections until set_broker_up(id).
    void set_broker_down(int id) { rd_kafka_mock_broker_set_down(cluster_, id); }
    /// Lets broker `id` accept connections again.
    void set_broker_up(int id) { rd_kafka_mock_broker_set_up(cluster_, id); }
    /// Makes broker `id` the leader of (topic, partition).
    void set_leader(std::string_view topic, int partition, int id) {
        rd_kafka_mock_partition_set_leader(cluster_, std::string(topic).c_str(), partition, id);
    }

    /// KafkaOptions for an adapter under test: topics created on this cluster, auto-created topics
    /// with one partition, and group timings short enough for the mock coordinator (it still holds
    /// the first join of a group for 3 s, like group.initial.rebalance.delay.ms).
    adapters::KafkaOptions adapter_options() {
        adapters::KafkaOptions options;
        options.timeout = std::chrono::milliseconds(5000);
        options.default_partitions = 1;
        options.session_timeout = std::chrono::milliseconds(3000);
        options.heartbeat_interval = std::chrono::milliseconds(300);
        options.max_poll_interval = std::chrono::milliseconds(10000);
        options.fetch_wait = std::chrono::milliseconds(20);
        options.close_timeout = std::chrono::milliseconds(3000);
        options.revoke_drain = std::chrono::milliseconds(1000);
        options.topic_creator = [this](std::string_view topic, int partitions) {
            return create_topic(topic, partitions);
        };
        return options;
    }

private:
    int brokers_;
    rd_kafka_t* host_ = nullptr;
    rd_kafka_mock_cluster_t* cluster_ = nullptr;
    std::string bootstrap_;
};

}  // namespace lt::test
