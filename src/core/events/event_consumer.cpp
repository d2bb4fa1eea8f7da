#include "lt/core/event_consumer.hpp"

#include <algorithm>
#include <exception>
#include <map>
#include <system_error>
#include <utility>

#include <spdlog/logger.h>

namespace lt {

EventConsumer::EventConsumer(ports::EventLog& log, EventConsumerOptions options, Handler handler, Logger logger)
    : log_(log),
      options_(std::move(options)),
      handler_(std::move(handler)),
      // A logger without sinks drops everything, so the loop never has to test for null.
      logger_(logger ? std::move(logger) : std::make_shared<spdlog::logger>("event_consumer")) {}

EventConsumer::EventConsumer(ports::EventLog& log, EventConsumerOptions options, BatchHandler handler, Logger logger)
    : EventConsumer(log, std::move(options), Handler(), std::move(logger)) {
    batch_handler_ = std::move(handler);
}

EventConsumer::~EventConsumer() { stop(); }

Result<void> EventConsumer::start() {
    std::lock_guard control(control_mutex_);
    if (thread_.joinable()) {
        return ok();
    }
    if (options_.topic.empty() || options_.group.empty()) {
        return fail(Errc::invalid_argument, "event consumer needs a topic and a group");
    }
    if (options_.max_batch == 0) {
        return fail(Errc::invalid_argument, "event consumer max_batch must be >= 1");
    }
    if (!handler_ && !batch_handler_) {
        return fail(Errc::invalid_argument, "event consumer has no handler");
    }
    stopping_ = false;
    try {
        thread_ = std::thread(&EventConsumer::run, this);
    } catch (const std::system_error& e) {
        return fail(Errc::internal, std::string("cannot start event consumer thread: ") + e.what());
    }
    running_ = true;
    logger_->info("event consumer started topic={} group={}", options_.topic, options_.group);
    return ok();
}

void EventConsumer::stop() {
    {
        // Taking wake_mutex_ orders the flag with a pause() that is about to wait.
        std::lock_guard wake(wake_mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (std::this_thread::get_id() == loop_thread_id_.load()) {
        return;
    }
    std::lock_guard control(control_mutex_);
    if (!thread_.joinable()) {
        return;
    }
    thread_.join();
    loop_thread_id_ = std::thread::id();
    running_ = false;
    logger_->info("event consumer stopped topic={} group={} delivered={} failed={}", options_.topic, options_.group,
                  delivered(), failed());
}

bool EventConsumer::running() const { return running_; }

std::uint64_t EventConsumer::delivered() const { return delivered_; }

std::uint64_t EventConsumer::failed() const { return failed_; }

std::chrono::milliseconds EventConsumer::next_backoff(std::chrono::milliseconds current) const {
    return std::min(current * 2, std::max(options_.max_backoff, options_.initial_backoff));
}

bool EventConsumer::pause(std::chrono::milliseconds pause) {
    std::unique_lock lock(wake_mutex_);
    wake_.wait_for(lock, pause, [this] { return stopping_.load(); });
    return !stopping_;
}

Result<void> EventConsumer::handle(const ports::EventRecord& record) {
    try {
        return handler_(record);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("handler threw: ") + e.what());
    } catch (...) {
        return fail(Errc::internal, "handler threw");
    }
}

Result<void> EventConsumer::handle_batch(std::span<const ports::EventRecord> batch) {
    try {
        return batch_handler_(batch);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("batch handler threw: ") + e.what());
    } catch (...) {
        return fail(Errc::internal, "batch handler threw");
    }
}

void EventConsumer::run_batch(const std::vector<ports::EventRecord>& batch, std::chrono::milliseconds& backoff) {
    if (batch.empty()) return;
    auto handled = handle_batch(batch);
    if (!handled) {
        ++failed_;
        logger_->warn("event batch handler failed topic={} group={} records={} first_offset={} error={} retry_in_ms={}",
                      batch.front().topic, options_.group, batch.size(), batch.front().offset,
                      handled.error().message, backoff.count());
        rewind(batch, 0);
        pause(backoff);
        backoff = next_backoff(backoff);
        return;
    }
    delivered_ += batch.size();
    backoff = options_.initial_backoff;
    // Committing a record commits everything before it in its partition: the last one of each is enough.
    std::map<int, const ports::EventRecord*> last;
    for (const auto& record : batch) last[record.partition] = &record;
    for (const auto& [partition, record] : last) {
        auto committed = log_.commit(options_.group, *record);
        if (!committed) {
            logger_->warn("event consumer commit failed topic={} group={} partition={} offset={} error={}",
                          record->topic, options_.group, partition, record->offset, committed.error().message);
        }
    }
}

void EventConsumer::rewind(const std::vector<ports::EventRecord>& batch, std::size_t from) {
    // A batch may mix partitions; each partition goes back to its first unhandled record.
    std::map<int, const ports::EventRecord*> first;
    for (std::size_t i = from; i < batch.size(); ++i) {
        first.emplace(batch[i].partition, &batch[i]);
    }
    for (const auto& [partition, record] : first) {
        auto backoff = options_.initial_backoff;
        for (;;) {
            auto sought = log_.seek(options_.group, *record);
            if (sought) {
                break;
            }
            logger_->error("event consumer seek failed topic={} group={} partition={} offset={} error={}",
                           record->topic, options_.group, partition, record->offset, sought.error().message);
            // Without the seek the record would be skipped for this group: keep trying until stopped.
            if (!pause(backoff)) {
                return;
            }
            backoff = next_backoff(backoff);
        }
    }
}

void EventConsumer::run() {
    // Set before any handler call, so that a stop() from the handler knows not to join itself.
    loop_thread_id_ = std::this_thread::get_id();
    auto backoff = options_.initial_backoff;
    while (!stopping_) {
        auto polled = log_.poll(options_.topic, options_.group, options_.max_batch, options_.poll_wait);
        if (!polled) {
            logger_->warn("event consumer poll failed topic={} group={} error={} retry_in_ms={}", options_.topic,
                          options_.group, polled.error().message, backoff.count());
            if (!pause(backoff)) {
                break;
            }
            backoff = next_backoff(backoff);
            continue;
        }
        const std::vector<ports::EventRecord>& batch = *polled;
        if (batch_handler_) {
            if (stopping_) {
                rewind(batch, 0);
                break;
            }
            run_batch(batch, backoff);
            continue;
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (stopping_) {
                rewind(batch, i);
                break;
            }
            const ports::EventRecord& record = batch[i];
            auto handled = handle(record);
            if (!handled) {
                ++failed_;
                logger_->warn(
                    "event handler failed topic={} group={} partition={} offset={} key={} error={} retry_in_ms={}",
                    record.topic, options_.group, record.partition, record.offset, record.key,
                    handled.error().message, backoff.count());
                rewind(batch, i);
                pause(backoff);
                backoff = next_backoff(backoff);
                break;
            }
            ++delivered_;
            backoff = options_.initial_backoff;
            auto committed = log_.commit(options_.group, record);
            if (!committed) {
                // The record was processed; without the commit it may come again, which the
                // handler tolerates (at least once).
                logger_->warn("event consumer commit failed topic={} group={} partition={} offset={} error={}",
                              record.topic, options_.group, record.partition, record.offset,
                              committed.error().message);
            }
        }
    }
}

}  // namespace lt
