#include "kafka_consumer_group.hpp"

#include <algorithm>
#include <cstring>

#include <spdlog/logger.h>

namespace lt::adapters {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

/// Longest single rd_kafka_consumer_poll: other pollers of the group (seeks, other topics) get the
/// handle at least this often.
constexpr milliseconds kSlice{100};
/// Messages taken from librdkafka per turn, after the first one arrived.
constexpr int kDrainPerTurn = 500;

milliseconds until(Steady::time_point deadline) {
    return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Steady::now()));
}

}  // namespace

KafkaConsumerGroup::KafkaConsumerGroup(KafkaOptions options, std::string group, std::atomic<bool>* available)
    : options_(std::move(options)), group_(std::move(group)) {
    this->available = available;
    logger = options_.logger;
    name = "consumer " + group_;
}

Result<std::unique_ptr<KafkaConsumerGroup>> KafkaConsumerGroup::open(const std::string& brokers,
                                                                      const KafkaOptions& options, std::string group,
                                                                      std::atomic<bool>* available) {
    std::unique_ptr<KafkaConsumerGroup> self(new KafkaConsumerGroup(options, std::move(group), available));
    const auto session = options.session_timeout;
    const auto heartbeat = options.heartbeat_interval.count() > 0
                               ? options.heartbeat_interval
                               : std::min(milliseconds(3000), std::max(milliseconds(1), session / 3));
    auto conf = kafka::make_conf(brokers, options,
                                 {{"group.id", self->group_},
                                  {"enable.auto.commit", "false"},
                                  {"enable.auto.offset.store", "false"},
                                  {"auto.offset.reset", "earliest"},
                                  {"enable.partition.eof", "false"},
                                  {"session.timeout.ms", std::to_string(kafka::to_ms(session))},
                                  {"heartbeat.interval.ms", std::to_string(kafka::to_ms(heartbeat))},
                                  {"max.poll.interval.ms", std::to_string(kafka::to_ms(options.max_poll_interval))},
                                  {"fetch.wait.max.ms", std::to_string(kafka::to_ms(options.fetch_wait))}},
                                 static_cast<kafka::HandleOwner*>(self.get()));
    if (!conf) return fail(conf.error());
    rd_kafka_conf_set_rebalance_cb(conf->get(), &KafkaConsumerGroup::on_rebalance);
    char error[512];
    self->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), error, sizeof error);
    if (!self->rk_) return fail(Errc::invalid_argument, std::string("kafka consumer: ") + error);
    conf.value().release();  // owned by the handle now
    return self;
}

KafkaConsumerGroup::~KafkaConsumerGroup() {
    close();
    if (rk_) rd_kafka_destroy_flags(rk_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

void KafkaConsumerGroup::close() {
    std::lock_guard poll_lock(poll_mutex_);
    if (closed_ || !rk_) return;
    closed_ = true;
    // Leaving the group hands the partitions to the others at once (no session timeout to wait out).
    // The asynchronous close keeps the wait bounded when the coordinator is unreachable.
    kafka::QueuePtr queue(rd_kafka_queue_new(rk_));
    if (rd_kafka_error_t* e = rd_kafka_consumer_close_queue(rk_, queue.get())) {
        logger->warn("kafka consumer close failed group={} error={}", group_, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return;
    }
    const auto deadline = Steady::now() + options_.close_timeout;
    while (!rd_kafka_consumer_closed(rk_) && Steady::now() < deadline) {
        // Serves the final revocation through on_rebalance.
        if (rd_kafka_event_t* ev = rd_kafka_queue_poll(queue.get(), std::min(kafka::to_ms(until(deadline)), 100))) {
            if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
                rebalance(rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev));
            }
            rd_kafka_event_destroy(ev);
        }
    }
    if (!rd_kafka_consumer_closed(rk_)) {
        logger->warn("kafka consumer of group {} did not close within {} ms", group_, options_.close_timeout.count());
    }
}

void KafkaConsumerGroup::on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                                      void* opaque) {
    auto* self = static_cast<KafkaConsumerGroup*>(static_cast<kafka::HandleOwner*>(opaque));
    self->rebalance(err, partitions);
}

bool KafkaConsumerGroup::others_in_flight(const std::vector<TopicPartition>& revoked) const {
    const auto me = std::this_thread::get_id();
    for (const auto& tp : revoked) {
        auto it = assigned_.find(tp);
        if (it == assigned_.end()) continue;
        const Partition& p = it->second;
        if (p.handed_end > p.resolved && p.holder != me) return true;
    }
    return false;
}

void KafkaConsumerGroup::rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
    std::vector<TopicPartition> tps;
    for (int i = 0; partitions && i < partitions->cnt; ++i) {
        tps.emplace_back(partitions->elems[i].topic, partitions->elems[i].partition);
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        // An assignment that arrives while the consumer closes is not taken: rd_kafka_assign can then
        // wait forever (librdkafka issues 4527, 4884), and a closing member hands everything back anyway.
        // The close stays bounded by options_.close_timeout. (Called with poll_mutex_ held, as closed_ is.)
        if (closed_) {
            logger->info("kafka group {} skips an assignment of {} partition(s) while closing", group_, tps.size());
            return;
        }
        {
            std::lock_guard lock(mutex_);
            for (const auto& tp : tps) assigned_[tp] = Partition{};
        }
        logger->info("kafka group {} assigned {} partition(s)", group_, tps.size());
        if (auto e = rd_kafka_assign(rk_, partitions)) {
            logger->error("kafka assign failed group={} error={}", group_, rd_kafka_err2str(e));
        }
        return;
    }
    {
        std::unique_lock lock(mutex_);
        for (const auto& tp : tps) {
            if (auto it = assigned_.find(tp); it != assigned_.end()) it->second.revoking = true;
        }
        // Records handed to other threads get a moment to be committed: what is committed now is
        // not processed again by the next owner. A lost assignment cannot commit any more.
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !rd_kafka_assignment_lost(rk_)) {
            changed_.wait_for(lock, options_.revoke_drain, [&] { return !others_in_flight(tps); });
        }
        for (const auto& tp : tps) {
            drop_buffered(tp);
            assigned_.erase(tp);
        }
        ++generation_;
    }
    changed_.notify_all();
    logger->info("kafka group {} revoked {} partition(s)", group_, tps.size());
    if (auto e = rd_kafka_assign(rk_, nullptr)) {
        logger->warn("kafka unassign failed group={} error={}", group_, rd_kafka_err2str(e));
    }
}

void KafkaConsumerGroup::drop_buffered(const TopicPartition& tp) {
    auto it = assigned_.find(tp);
    if (it == assigned_.end() || it->second.buffered == 0) return;
    auto& buffer = buffers_[tp.first];
    buffer.erase(std::remove_if(buffer.begin(), buffer.end(),
                                [&](const ports::EventRecord& r) { return r.partition == tp.second; }),
                 buffer.end());
    it->second.buffered = 0;
}

void KafkaConsumerGroup::set_paused(const std::vector<TopicPartition>& tps, bool paused) {
    if (tps.empty()) return;
    kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(tps.size())));
    for (const auto& [topic, partition] : tps) {
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition);
        assigned_[{topic, partition}].paused = paused;
    }
    const auto e = paused ? rd_kafka_pause_partitions(rk_, list.get()) : rd_kafka_resume_partitions(rk_, list.get());
    if (e) logger->warn("kafka {} failed group={} error={}", paused ? "pause" : "resume", group_, rd_kafka_err2str(e));
}

void KafkaConsumerGroup::stash(rd_kafka_message_t* message) {
    if (message->err) {
        // Logged when it changes and then at most every 30 s: a broker outage repeats it on every poll.
        const auto now = Steady::now();
        if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
            (message->err != last_error_ || now - last_error_logged_ >= std::chrono::seconds(30))) {
            logger->warn("kafka consumer error group={} error={}", group_, rd_kafka_message_errstr(message));
            last_error_ = message->err;
            last_error_logged_ = now;
        }
        return;
    }
    if (available) available->store(true);
    TopicPartition tp{rd_kafka_topic_name(message->rkt), message->partition};
    auto it = assigned_.find(tp);
    if (it == assigned_.end() || it->second.revoking) return;  // not ours (any more)
    ports::EventRecord record;
    record.topic = tp.first;
    record.partition = tp.second;
    record.offset = message->offset;
    if (message->key) record.key.assign(static_cast<const char*>(message->key), message->key_len);
    if (message->payload) record.value.assign(static_cast<const char*>(message->payload), message->len);
    rd_kafka_timestamp_type_t type;
    const std::int64_t ts = rd_kafka_message_timestamp(message, &type);
    if (ts >= 0) record.timestamp = std::chrono::system_clock::time_point(milliseconds(ts));
    auto& buffer = buffers_[tp.first];
    buffer.push_back(std::move(record));
    ++it->second.buffered;
    if (buffer.size() >= options_.max_buffered && !it->second.paused) set_paused({tp}, true);
}

std::vector<ports::EventRecord> KafkaConsumerGroup::take(const std::string& topic, std::size_t max) {
    std::vector<ports::EventRecord> out;
    auto& buffer = buffers_[topic];
    const auto me = std::this_thread::get_id();
    while (!buffer.empty() && out.size() < max) {
        ports::EventRecord record = std::move(buffer.front());
        buffer.pop_front();
        Partition& p = assigned_[{topic, record.partition}];
        if (p.buffered > 0) --p.buffered;
        if (p.handed_end <= p.resolved) p.resolved = record.offset;  // nothing of it was in flight
        p.handed_end = record.offset + 1;
        p.holder = me;
        out.push_back(std::move(record));
    }
    if (buffer.size() <= options_.max_buffered / 2) {
        std::vector<TopicPartition> resume;
        for (const auto& [tp, p] : assigned_) {
            if (p.paused && tp.first == topic) resume.push_back(tp);
        }
        set_paused(resume, false);
    }
    return out;
}

Result<void> KafkaConsumerGroup::fetch(milliseconds slice) {
    if (closed_) return fail(Errc::unavailable, "kafka consumer of group " + group_ + " is closed");
    bool subscribe = false;
    std::vector<std::string> topics;
    {
        std::lock_guard lock(mutex_);
        if (subscription_dirty_) {
            subscribe = true;
            subscription_dirty_ = false;
            topics.assign(topics_.begin(), topics_.end());
        }
    }
    if (subscribe) {
        kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
        for (const auto& t : topics) rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
        if (auto e = rd_kafka_subscribe(rk_, list.get())) {
            std::lock_guard lock(mutex_);
            subscription_dirty_ = true;
            return fail(kafka::kafka_error(e, "kafka subscribe of group " + group_));
        }
    }
    rd_kafka_message_t* message = rd_kafka_consumer_poll(rk_, kafka::to_ms(slice));
    for (int n = 0; message && n < kDrainPerTurn; ++n) {
        {
            std::lock_guard lock(mutex_);
            stash(message);
        }
        rd_kafka_message_destroy(message);
        message = n + 1 < kDrainPerTurn ? rd_kafka_consumer_poll(rk_, 0) : nullptr;
    }
    if (message) rd_kafka_message_destroy(message);
    return ok();
}

Result<std::vector<ports::EventRecord>> KafkaConsumerGroup::poll(const std::string& topic, std::size_t max,
                                                                 Steady::time_point deadline) {
    std::unique_lock lock(mutex_);
    if (topics_.insert(topic).second) subscription_dirty_ = true;
    for (;;) {
        if (auto& buffer = buffers_[topic]; !buffer.empty()) return take(topic, max);
        if (Steady::now() >= deadline) return std::vector<ports::EventRecord>();
        const auto seen = generation_;
        lock.unlock();
        if (poll_mutex_.try_lock()) {
            auto fetched = fetch(std::min(kSlice, until(deadline)));
            poll_mutex_.unlock();
            lock.lock();
            ++generation_;
            changed_.notify_all();
            if (!fetched) return fail(fetched.error());
            continue;
        }
        lock.lock();
        // Another thread is polling librdkafka: wait for what it files (or for the handle).
        changed_.wait_until(lock, std::min(deadline, Steady::now() + kSlice), [&] { return generation_ != seen; });
    }
}

Result<void> KafkaConsumerGroup::commit(const ports::EventRecord& record) {
    const TopicPartition tp{record.topic, record.partition};
    {
        std::lock_guard lock(mutex_);
        auto it = assigned_.find(tp);
        if (it == assigned_.end()) {
            return fail(Errc::conflict, "partition " + record.topic + "/" + std::to_string(record.partition) +
                                            " is not assigned to this consumer of group " + group_ + " (rebalanced)");
        }
        Partition& p = it->second;
        if (record.offset < 0 || record.offset >= p.handed_end) {
            return fail(Errc::conflict, "offset " + std::to_string(record.offset) + " of " + record.topic + "/" +
                                                    std::to_string(record.partition) +
                                                    " was not delivered to this consumer of group " + group_ + " since its last rebalance");
        }
        if (record.offset + 1 <= p.committed) {
            p.resolved = std::max(p.resolved, record.offset + 1);
            return ok();  // never backwards
        }
    }
    Result<void> result = ok();
    auto offsets = kafka::one_partition(record.topic, record.partition, record.offset + 1);
    kafka::QueuePtr queue(rd_kafka_queue_new(rk_));
    if (auto e = rd_kafka_commit_queue(rk_, offsets.get(), queue.get(), nullptr, nullptr)) {
        result = fail(kafka::kafka_error(e, "kafka commit"));
    } else {
        kafka::EventPtr ev(rd_kafka_queue_poll(queue.get(), kafka::to_ms(options_.timeout)));
        if (!ev) {
            result = fail(Errc::unavailable, "kafka commit not confirmed within " +
                                                 std::to_string(options_.timeout.count()) + " ms");
        } else if (auto e = rd_kafka_event_error(ev.get())) {
            result = fail(kafka::kafka_error(e, "kafka commit"));
        } else if (const auto* list = rd_kafka_event_topic_partition_list(ev.get()); list && list->cnt > 0 &&
                                                                                      list->elems[0].err) {
            result = fail(kafka::kafka_error(list->elems[0].err, "kafka commit"));
        }
    }
    {
        // Committed or not, the caller is done with the record: a revocation need not wait for it.
        std::lock_guard lock(mutex_);
        if (auto it = assigned_.find(tp); it != assigned_.end()) {
            it->second.resolved = std::max(it->second.resolved, record.offset + 1);
            if (result) it->second.committed = std::max(it->second.committed, record.offset + 1);
        }
        ++generation_;
    }
    changed_.notify_all();
    return result;
}

Result<void> KafkaConsumerGroup::seek(const ports::EventRecord& record) {
    const TopicPartition tp{record.topic, record.partition};
    {
        // Resolved first: a revocation waiting on this thread's records goes ahead (and then the
        // partition is not ours, so there is nothing to rewind).
        std::lock_guard lock(mutex_);
        auto it = assigned_.find(tp);
        if (it == assigned_.end() || it->second.revoking) return ok();
        it->second.resolved = it->second.handed_end;
        ++generation_;
    }
    changed_.notify_all();
    std::lock_guard poll_lock(poll_mutex_);  // no fetch files records of the old position meanwhile
    {
        std::lock_guard lock(mutex_);
        auto it = assigned_.find(tp);
        if (it == assigned_.end() || it->second.revoking) return ok();
        drop_buffered(tp);
        it->second.handed_end = record.offset;
        it->second.resolved = record.offset;
        if (it->second.paused) set_paused({tp}, false);
    }
    auto list = kafka::one_partition(record.topic, record.partition, record.offset);
    if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_, list.get(), kafka::to_ms(options_.timeout))) {
        Error error{Errc::unavailable, std::string("kafka seek: ") + rd_kafka_error_string(e)};
        error.code = kafka::errc_for(rd_kafka_error_code(e));
        rd_kafka_error_destroy(e);
        return fail(std::move(error));
    }
    if (list->elems[0].err) return fail(kafka::kafka_error(list->elems[0].err, "kafka seek"));
    return ok();
}

std::vector<std::pair<std::string, int>> KafkaConsumerGroup::assignment() const {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::string, int>> out;
    for (const auto& [tp, p] : assigned_) {
        if (!p.revoking) out.push_back(tp);
    }
    return out;
}

Result<std::int64_t> KafkaConsumerGroup::committed(const std::string& topic, int partition) {
    auto list = kafka::one_partition(topic, partition, RD_KAFKA_OFFSET_INVALID);
    if (auto e = rd_kafka_committed(rk_, list.get(), kafka::to_ms(options_.timeout))) {
        return fail(kafka::kafka_error(e, "kafka committed offsets of group " + group_));
    }
    const auto& elem = list->elems[0];
    if (elem.err) return fail(kafka::kafka_error(elem.err, "kafka committed offset of group " + group_));
    return std::max<std::int64_t>(0, elem.offset);
}

}  // namespace lt::adapters
