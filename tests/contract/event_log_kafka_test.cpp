// The EventLog and EventConsumer contract suites on KafkaEventLog, against librdkafka's mock cluster
// (3 brokers) hosted in this process.
#include "contract/event_log_consumer_contract.hpp"
#include "contract/event_log_contract.hpp"

#include <atomic>

#include "lt/adapters/kafka_event_log.hpp"
#include "support/kafka_mock_cluster.hpp"

namespace {

lt::test::KafkaMockCluster& cluster() {
    static lt::test::KafkaMockCluster instance(3);
    return instance;
}

/// A fresh KafkaEventLog per case on the shared mock cluster; names carry a per-case prefix.
struct KafkaEventLogHarness {
    /// The first poll of a fresh group waits for the mock coordinator's 3 s join delay.
    static constexpr std::chrono::milliseconds kPatience{15000};

    static std::unique_ptr<KafkaEventLogHarness> make() {
        auto opened = lt::adapters::KafkaEventLog::open(cluster().bootstrap_servers(), cluster().adapter_options());
        REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string() : opened.error().message));
        auto h = std::make_unique<KafkaEventLogHarness>();
        h->log_ = std::move(*opened);
        static std::atomic<int> cases{0};
        h->prefix_ = "c" + std::to_string(++cases) + "-";
        return h;
    }
    lt::ports::EventLog& log() { return *log_; }
    std::string name(std::string_view base) { return prefix_ + std::string(base); }

    std::unique_ptr<lt::adapters::KafkaEventLog> log_;
    std::string prefix_;
};

}  // namespace

TYPE_TO_STRING_AS("kafka", KafkaEventLogHarness);
LT_EVENT_LOG_CONTRACT(KafkaEventLogHarness);
LT_EVENT_CONSUMER_CONTRACT(KafkaEventLogHarness);
