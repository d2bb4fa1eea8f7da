#include "lt/adapters/kafka_event_log.hpp"

#include <algorithm>
#include <exception>
#include <optional>
#include <span>
#include <utility>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include "kafka_common.hpp"
#include "kafka_consumer_group.hpp"

namespace lt::adapters {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

/// How often the service thread asks for metadata while no broker is reachable.
constexpr milliseconds kProbeInterval{1000};
/// Extra wait over message.timeout.ms for librdkafka's own delivery-report timeout to arrive.
constexpr milliseconds kReportGrace{1000};

/// One append waiting for its delivery report (shared by the caller and the report callback).
struct Delivery {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    int partition = -1;
    std::int64_t offset = -1;
    std::int64_t timestamp_ms = -1;
};

}  // namespace

/// The producer handle and what its callbacks reach.
struct KafkaProducer : kafka::HandleOwner {
    rd_kafka_t* rk = nullptr;
    ~KafkaProducer() {
        if (rk) rd_kafka_destroy(rk);
    }

    static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
        auto* holder = static_cast<std::shared_ptr<Delivery>*>(message->_private);
        if (!holder) return;
        auto delivery = std::move(*holder);
        delete holder;
        if (!message->err) {
            if (auto* owner = static_cast<kafka::HandleOwner*>(opaque); owner && owner->available) {
                owner->available->store(true);
            }
        }
        rd_kafka_timestamp_type_t type;
        const std::int64_t ts = rd_kafka_message_timestamp(message, &type);
        {
            std::lock_guard lock(delivery->mutex);
            delivery->err = message->err;
            delivery->partition = message->partition;
            delivery->offset = message->offset;
            delivery->timestamp_ms = ts;
            delivery->done = true;
        }
        delivery->done_cv.notify_all();
    }
};

KafkaEventLog::KafkaEventLog(std::string brokers, KafkaOptions options)
    : brokers_(std::move(brokers)), options_(std::move(options)) {
    if (!options_.logger) {
        options_.logger = std::make_shared<spdlog::logger>("kafka", std::make_shared<spdlog::sinks::null_sink_mt>());
    }
    options_.default_partitions = std::max(options_.default_partitions, 1);
    options_.max_buffered = std::max<std::size_t>(options_.max_buffered, 1);
}

Result<std::unique_ptr<KafkaEventLog>> KafkaEventLog::open(std::string brokers, KafkaOptions options) {
    if (brokers.empty()) return fail(Errc::invalid_argument, "kafka needs bootstrap servers (storage.events.brokers)");
    if (options.timeout.count() <= 0) return fail(Errc::invalid_argument, "kafka timeout must be positive");
    try {
        std::unique_ptr<KafkaEventLog> log(new KafkaEventLog(std::move(brokers), std::move(options)));
        if (auto started = log->start(); !started) return fail(started.error());
        return log;
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("kafka open failed: ") + e.what());
    }
}

Result<void> KafkaEventLog::start() {
    producer_ = std::make_unique<KafkaProducer>();
    producer_->available = &available_;
    producer_->logger = options_.logger;
    producer_->name = "producer";
    auto conf = kafka::make_conf(brokers_, options_,
                                 {{"enable.idempotence", "true"},
                                  {"acks", "all"},
                                  // Kafka's own partitioner (Java clients, the memory adapter): a key
                                  // always lands in the same partition.
                                  {"partitioner", "murmur2"},
                                  {"linger.ms", std::to_string(kafka::to_ms(options_.linger))},
                                  {"message.timeout.ms", std::to_string(kafka::to_ms(options_.timeout))}},
                                 producer_.get());
    if (!conf) return fail(conf.error());
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaProducer::on_delivery);
    char error[512];
    producer_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), error, sizeof error);
    if (!producer_->rk) return fail(Errc::invalid_argument, std::string("kafka producer: ") + error);
    conf.value().release();
    // One round trip tells whether the cluster answers; when it does not, the log starts unavailable.
    const struct rd_kafka_metadata* md = nullptr;
    const auto e = rd_kafka_metadata(producer_->rk, 0, nullptr, &md, kafka::to_ms(options_.timeout));
    if (md) rd_kafka_metadata_destroy(md);
    if (e) {
        available_ = false;
        options_.logger->warn("kafka brokers {} do not answer ({}); the event log starts unavailable", brokers_,
                              rd_kafka_err2str(e));
    }
    service_ = std::thread([this] { service_loop(); });
    return ok();
}

KafkaEventLog::~KafkaEventLog() {
    stopping_ = true;  // no new groups; the service thread ends (flush serves the reports itself)
    {
        std::lock_guard lock(groups_mutex_);
        for (auto& [name, group] : groups_) group->close();
        groups_.clear();
    }
    if (producer_ && producer_->rk) {
        if (auto e = rd_kafka_flush(producer_->rk, kafka::to_ms(options_.close_timeout))) {
            options_.logger->warn("kafka producer flush incomplete at shutdown: {} message(s) dropped ({})",
                                  rd_kafka_outq_len(producer_->rk), rd_kafka_err2str(e));
            rd_kafka_purge(producer_->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        }
    }
    if (service_.joinable()) service_.join();
    // Reports of purged messages release their waiters.
    if (producer_ && producer_->rk) rd_kafka_poll(producer_->rk, 0);
    for (auto& [name, handle] : known_topics_) rd_kafka_topic_destroy(handle);
    known_topics_.clear();
    producer_.reset();
}

void KafkaEventLog::service_loop() {
    auto next_probe = Steady::now();
    while (!stopping_) {
        rd_kafka_poll(producer_->rk, 100);
        if (!available_ && Steady::now() >= next_probe) {
            const struct rd_kafka_metadata* md = nullptr;
            const auto e = rd_kafka_metadata(producer_->rk, 0, nullptr, &md,
                                             kafka::to_ms(std::min(options_.timeout, kProbeInterval)));
            if (md) rd_kafka_metadata_destroy(md);
            if (!e && !available_.exchange(true)) options_.logger->info("kafka brokers {} answer again", brokers_);
            next_probe = Steady::now() + kProbeInterval;
        }
    }
}

bool KafkaEventLog::available() const { return available_; }

std::vector<std::pair<std::string, int>> KafkaEventLog::assignment(std::string_view group) {
    std::lock_guard lock(groups_mutex_);
    auto it = groups_.find(group);
    if (it == groups_.end()) return {};
    return it->second->assignment();
}

Result<bool> KafkaEventLog::topic_exists(const std::string& topic) {
    // All topics: asking for one topic by name could make the broker auto-create it.
    const struct rd_kafka_metadata* md = nullptr;
    if (auto e = rd_kafka_metadata(producer_->rk, 1, nullptr, &md, kafka::to_ms(options_.timeout))) {
        return fail(kafka::kafka_error(e, "kafka metadata"));
    }
    bool found = false;
    for (int i = 0; i < md->topic_cnt && !found; ++i) {
        found = topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                md->topics[i].partition_cnt > 0;
    }
    rd_kafka_metadata_destroy(md);
    return found;
}

Result<void> KafkaEventLog::create_with_admin(const std::string& topic, int partitions) {
    char error[512];
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(topic.c_str(), partitions, options_.replication_factor, error, sizeof error);
    if (!nt) return fail(Errc::invalid_argument, std::string("kafka topic ") + topic + ": " + error);
    rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(producer_->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(admin, kafka::to_ms(options_.timeout), error, sizeof error);
    rd_kafka_AdminOptions_set_operation_timeout(admin, kafka::to_ms(options_.timeout), error, sizeof error);
    kafka::QueuePtr queue(rd_kafka_queue_new(producer_->rk));
    rd_kafka_CreateTopics(producer_->rk, &nt, 1, admin, queue.get());
    rd_kafka_AdminOptions_destroy(admin);
    rd_kafka_NewTopic_destroy(nt);
    kafka::EventPtr ev(rd_kafka_queue_poll(queue.get(), kafka::to_ms(options_.timeout + kReportGrace)));
    if (!ev) return fail(Errc::unavailable, "kafka CreateTopics of " + topic + " did not answer");
    if (auto e = rd_kafka_event_error(ev.get())) {
        return fail(Error{kafka::errc_for(e), std::string("kafka CreateTopics of ") + topic + ": " +
                                                  rd_kafka_event_error_string(ev.get())});
    }
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &count);
    for (size_t i = 0; i < count; ++i) {
        const auto e = rd_kafka_topic_result_error(results[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            const char* why = rd_kafka_topic_result_error_string(results[i]);
            return fail(Error{kafka::errc_for(e), "kafka CreateTopics of " + topic + ": " + (why ? why : "")});
        }
    }
    return ok();
}

Result<void> KafkaEventLog::auto_create(const std::string& topic) {
    // Asking for the topic by name lets a broker with auto.create.topics.enable create it.
    rd_kafka_topic_t* handle = rd_kafka_topic_new(producer_->rk, topic.c_str(), nullptr);
    if (!handle) return fail(Errc::invalid_argument, "kafka topic " + topic + " refused");
    const struct rd_kafka_metadata* md = nullptr;
    const auto e = rd_kafka_metadata(producer_->rk, 0, handle, &md, kafka::to_ms(options_.timeout));
    rd_kafka_topic_destroy(handle);
    if (e) return fail(kafka::kafka_error(e, "kafka metadata of " + topic));
    const bool created = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                         md->topics[0].partition_cnt > 0;
    const auto topic_err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    rd_kafka_metadata_destroy(md);
    if (!created) return fail(kafka::kafka_error(topic_err, "kafka topic " + topic + " could not be created"));
    return ok();
}

Result<void> KafkaEventLog::create_topic(std::string_view topic, int partitions) {
    if (topic.empty()) return fail(Errc::invalid_argument, "topic name is empty");
    if (partitions < 1) return fail(Errc::invalid_argument, "a topic needs at least one partition");
    try {
        const std::string name(topic);
        auto created = options_.topic_creator ? options_.topic_creator(name, partitions)
                       : options_.create_topics ? create_with_admin(name, partitions)
                                                : auto_create(name);
        if (!created) return created;
        std::lock_guard lock(topics_mutex_);
        if (auto known = remember_topic(name); !known) return fail(known.error());
        return ok();
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("create_topic failed: ") + e.what());
    }
}

Result<void> KafkaEventLog::ensure_topic(std::string_view topic) {
    std::lock_guard lock(topics_mutex_);
    if (known_topics_.find(topic) != known_topics_.end()) return ok();
    const std::string name(topic);
    auto exists = topic_exists(name);
    if (!exists) return fail(exists.error());
    if (!*exists && !options_.topic_creator && !options_.create_topics) {
        if (auto automatic = auto_create(name); !automatic) return automatic;
    } else if (!*exists) {
        auto created = options_.topic_creator ? options_.topic_creator(name, options_.default_partitions)
                                              : create_with_admin(name, options_.default_partitions);
        if (!created) {
            // Some clusters refuse CreateTopics (no Admin API, ACLs): let the broker create it.
            options_.logger->warn("kafka could not create topic {} ({}); relying on broker auto-creation", name,
                                  created.error().message);
            if (auto automatic = auto_create(name); !automatic) return automatic;
        } else {
            options_.logger->info("kafka created topic {} with {} partition(s)", name, options_.default_partitions);
        }
    }
    if (auto known = remember_topic(name); !known) return fail(known.error());
    return ok();
}

Result<rd_kafka_topic_t*> KafkaEventLog::remember_topic(const std::string& topic) {
    if (auto it = known_topics_.find(topic); it != known_topics_.end()) return it->second;
    rd_kafka_topic_t* handle = rd_kafka_topic_new(producer_->rk, topic.c_str(), nullptr);
    if (!handle) return fail(kafka::kafka_error(rd_kafka_last_error(), "kafka topic " + topic));
    const struct rd_kafka_metadata* md = nullptr;
    const auto e = rd_kafka_metadata(producer_->rk, 0, handle, &md, kafka::to_ms(options_.timeout));
    if (md) rd_kafka_metadata_destroy(md);
    if (e) {
        rd_kafka_topic_destroy(handle);
        return fail(kafka::kafka_error(e, "kafka metadata of " + topic));
    }
    known_topics_.emplace(topic, handle);
    return handle;
}

Result<ports::EventRecord> KafkaEventLog::append(std::string_view topic, std::string_view key, std::string value) {
    Append one{topic, key, std::move(value)};
    auto r = append_batch(std::span<Append>(&one, 1));
    return std::move(r.front());
}

std::vector<Result<ports::EventRecord>> KafkaEventLog::append_batch(std::span<Append> records) {
    std::vector<Result<ports::EventRecord>> out;
    out.reserve(records.size());
    // Every record is produced before any delivery report is awaited: librdkafka sends what is queued
    // together, so a batch costs about one round trip (linger.ms stays 0). The first record that
    // cannot be produced ends the batch: the rest are not produced (a later one of the same key must
    // not overtake it).
    std::vector<std::shared_ptr<Delivery>> deliveries;
    deliveries.reserve(records.size());
    std::optional<Error> produce_error;
    const auto deadline = Steady::now() + options_.timeout + kReportGrace;
    try {
        for (auto& record : records) {
            if (record.topic.empty()) {
                produce_error = Error{Errc::invalid_argument, "topic name is empty"};
                break;
            }
            if (auto ensured = ensure_topic(record.topic); !ensured) {
                produce_error = ensured.error();
                break;
            }
            const std::string name(record.topic);
            rd_kafka_topic_t* handle = nullptr;
            {
                std::lock_guard lock(topics_mutex_);
                handle = known_topics_.find(name)->second;
            }
            auto delivery = std::make_shared<Delivery>();
            for (;;) {
                auto* holder = new std::shared_ptr<Delivery>(delivery);
                const auto e = rd_kafka_producev(
                    producer_->rk, RD_KAFKA_V_RKT(handle), RD_KAFKA_V_KEY(record.key.data(), record.key.size()),
                    RD_KAFKA_V_VALUE(record.value.data(), record.value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_OPAQUE(holder), RD_KAFKA_V_END);
                if (!e) break;
                delete holder;
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || Steady::now() >= deadline) {
                    produce_error = kafka::kafka_error(e, "kafka produce to " + name);
                    break;
                }
                std::this_thread::sleep_for(milliseconds(5));  // the service thread drains the queue
            }
            if (produce_error) break;
            deliveries.push_back(std::move(delivery));
        }
    } catch (const std::exception& e) {
        produce_error = Error{Errc::internal, std::string("append failed: ") + e.what()};
    }
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (i >= deliveries.size()) {
            if (i == deliveries.size() && produce_error) {
                out.push_back(fail(*produce_error));
            } else {
                out.push_back(fail(Errc::unavailable, "not sent: an earlier record of the batch failed"));
            }
            continue;
        }
        auto& delivery = *deliveries[i];
        const std::string name(records[i].topic);
        std::unique_lock lock(delivery.mutex);
        if (!delivery.done_cv.wait_until(lock, deadline, [&] { return delivery.done; })) {
            out.push_back(fail(Errc::unavailable, "kafka delivery to " + name + " not confirmed within " +
                                                      std::to_string(options_.timeout.count()) + " ms"));
            continue;
        }
        if (delivery.err) {
            out.push_back(fail(kafka::kafka_error(delivery.err, "kafka delivery to " + name)));
            continue;
        }
        ports::EventRecord stored;
        stored.topic = name;
        stored.partition = delivery.partition;
        stored.offset = delivery.offset;
        stored.key = std::string(records[i].key);
        stored.value = std::move(records[i].value);
        stored.timestamp = delivery.timestamp_ms >= 0
                               ? std::chrono::system_clock::time_point(milliseconds(delivery.timestamp_ms))
                               : std::chrono::system_clock::now();
        out.push_back(std::move(stored));
    }
    return out;
}

Result<KafkaConsumerGroup*> KafkaEventLog::group_for(std::string_view group) {
    if (group.empty()) return fail(Errc::invalid_argument, "consumer group is empty");
    std::lock_guard lock(groups_mutex_);
    if (stopping_) return fail(Errc::unavailable, "kafka event log is closing");
    auto it = groups_.find(group);
    if (it == groups_.end()) {
        auto opened = KafkaConsumerGroup::open(brokers_, options_, std::string(group), &available_);
        if (!opened) return fail(opened.error());
        it = groups_.emplace(std::string(group), std::move(*opened)).first;
    }
    return it->second.get();
}

Result<std::vector<ports::EventRecord>> KafkaEventLog::poll(std::string_view topic, std::string_view group,
                                                            std::size_t max, milliseconds wait) {
    if (max == 0) return std::vector<ports::EventRecord>();
    if (topic.empty()) return fail(Errc::invalid_argument, "topic name is empty");
    try {
        const auto bounded = std::clamp(wait, milliseconds(0), milliseconds(std::chrono::hours(24)));
        const auto deadline = Steady::now() + bounded;
        if (auto ensured = ensure_topic(topic); !ensured) return fail(ensured.error());
        auto g = group_for(group);
        if (!g) return fail(g.error());
        return (*g)->poll(std::string(topic), max, deadline);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("poll failed: ") + e.what());
    }
}

Result<void> KafkaEventLog::commit(std::string_view group, const ports::EventRecord& record) {
    try {
        auto g = group_for(group);
        if (!g) return fail(g.error());
        return (*g)->commit(record);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("commit failed: ") + e.what());
    }
}

Result<void> KafkaEventLog::seek(std::string_view group, const ports::EventRecord& record) {
    try {
        auto g = group_for(group);
        if (!g) return fail(g.error());
        return (*g)->seek(record);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("seek failed: ") + e.what());
    }
}

Result<std::int64_t> KafkaEventLog::committed(std::string_view topic, std::string_view group, int partition) {
    if (partition < 0) return fail(Errc::invalid_argument, "partition must be >= 0");
    try {
        auto g = group_for(group);
        if (!g) return fail(g.error());
        return (*g)->committed(std::string(topic), partition);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("committed failed: ") + e.what());
    }
}

}  // namespace lt::adapters
