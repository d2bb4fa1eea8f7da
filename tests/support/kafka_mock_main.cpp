// lt-kafka-mock: hosts librdkafka's mock Kafka cluster until SIGTERM or SIGINT, for tests that start
// several `leaky-tokens serve` processes on one "Kafka".
//
//   lt-kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]...
//
// Prints `BOOTSTRAP=<host:port,...>` on stdout (flushed) once the brokers listen, then waits.
// --topic pre-creates a topic (default 4 partitions): the mock has no CreateTopics API, and topics it
// auto-creates on first use get 4 partitions.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) { stop_requested = 1; }

int usage() {
    std::fprintf(stderr, "usage: lt-kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]...\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    int brokers = 3;
    std::vector<std::pair<std::string, int>> topics;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--brokers" && i + 1 < argc) {
            brokers = std::atoi(argv[++i]);
            if (brokers < 1) return usage();
        } else if (arg == "--topic" && i + 1 < argc) {
            std::string spec = argv[++i];
            int partitions = 4;
            if (auto colon = spec.rfind(':'); colon != std::string::npos) {
                partitions = std::atoi(spec.c_str() + colon + 1);
                spec.resize(colon);
            }
            if (spec.empty() || partitions < 1) return usage();
            topics.emplace_back(spec, partitions);
        } else {
            return usage();
        }
    }

    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);

    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
    rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!host) {
        std::fprintf(stderr, "lt-kafka-mock: %s\n", error);
        return 1;
    }
    rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(host, brokers);
    if (!cluster) {
        std::fprintf(stderr, "lt-kafka-mock: cannot start the mock cluster\n");
        rd_kafka_destroy(host);
        return 1;
    }
    for (const auto& [name, partitions] : topics) {
        const auto err = rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, brokers < 3 ? brokers : 3);
        if (err) {
            std::fprintf(stderr, "lt-kafka-mock: topic %s: %s\n", name.c_str(), rd_kafka_err2str(err));
            return 1;
        }
    }
    std::printf("BOOTSTRAP=%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
    std::fflush(stdout);
    while (!stop_requested) {
        struct timespec pause {0, 50 * 1000 * 1000};
        nanosleep(&pause, nullptr);
    }
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(host);
    return 0;
}
