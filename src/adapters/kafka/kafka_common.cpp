#include "kafka_common.hpp"

#include <algorithm>
#include <climits>

#include <spdlog/logger.h>

namespace lt::adapters::kafka {

namespace {

HandleOwner* owner_of(rd_kafka_t* rk) { return static_cast<HandleOwner*>(rd_kafka_opaque(rk)); }

void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* owner = static_cast<HandleOwner*>(opaque);
    if (!owner) return;
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        if (owner->available && owner->available->exchange(false)) {
            owner->logger->warn("kafka unavailable: all brokers are down ({})", owner->name);
        }
        return;
    }
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        char fatal[512];
        const auto original = rd_kafka_fatal_error(rk, fatal, sizeof fatal);
        owner->logger->error("kafka fatal error ({}): {} {}", owner->name, rd_kafka_err2name(original), fatal);
        return;
    }
    // Transport errors come and go with the brokers; librdkafka retries them by itself.
    owner->logger->debug("kafka error ({}): {} {}", owner->name, rd_kafka_err2name(code), reason ? reason : "");
}

void on_log(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
    auto* owner = owner_of(const_cast<rd_kafka_t*>(rk));
    if (!owner) return;
    // syslog levels: 0..3 error, 4 warning, 5..6 notice/info, 7 debug.
    const auto lvl = level <= 3 ? spdlog::level::err : level == 4 ? spdlog::level::warn : spdlog::level::debug;
    owner->logger->log(lvl, "librdkafka {} [{}]: {}", owner->name, facility ? facility : "", message ? message : "");
}

}  // namespace

Result<ConfPtr> make_conf(const std::string& brokers, const KafkaOptions& options,
                          const std::vector<std::pair<std::string, std::string>>& settings, HandleOwner* owner) {
    ConfPtr conf(rd_kafka_conf_new());
    char error[512];
    auto set = [&](const std::string& name, const std::string& value) -> Result<void> {
        if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
            return fail(Errc::invalid_argument, "kafka property " + name + ": " + error);
        }
        return ok();
    };
    std::vector<std::pair<std::string, std::string>> all{{"bootstrap.servers", brokers},
                                                         {"client.id", options.client_id}};
    for (const auto& [name, value] : options.properties) all.emplace_back(name, value);
    all.insert(all.end(), settings.begin(), settings.end());
    for (const auto& [name, value] : all) {
        if (auto r = set(name, value); !r) return fail(r.error());
    }
    rd_kafka_conf_set_opaque(conf.get(), owner);
    rd_kafka_conf_set_error_cb(conf.get(), on_error);
    rd_kafka_conf_set_log_cb(conf.get(), on_log);
    return conf;
}

Errc errc_for(rd_kafka_resp_err_t err) {
    switch (err) {
        case RD_KAFKA_RESP_ERR__INVALID_ARG:
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
        case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
        case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
        case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
            return Errc::invalid_argument;
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
            return Errc::payload_too_large;
        case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
        case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
        case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
        case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
        case RD_KAFKA_RESP_ERR__STATE:
            return Errc::conflict;
        case RD_KAFKA_RESP_ERR__FATAL:
        case RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED:
        case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
            return Errc::internal;
        default:
            // Timeouts, transport errors, leaders and coordinators moving, brokers down: the
            // cluster is (for now) not able to serve the call.
            return Errc::unavailable;
    }
}

Error kafka_error(rd_kafka_resp_err_t err, std::string_view what) {
    std::string message(what);
    message += ": ";
    message += rd_kafka_err2name(err);
    message += " (";
    message += rd_kafka_err2str(err);
    message += ')';
    return Error{errc_for(err), std::move(message)};
}

int to_ms(std::chrono::milliseconds ms) {
    return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(ms.count(), 0, INT_MAX));
}

PartitionListPtr one_partition(const std::string& topic, int partition, std::int64_t offset) {
    PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
    return list;
}

}  // namespace lt::adapters::kafka
