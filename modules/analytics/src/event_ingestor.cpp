#include "event_ingestor.hpp"

#include <vector>

#include "event_codec.hpp"

namespace lt::analytics {

EventIngestor::EventIngestor(ports::UsageStore& store, Logger log, MetricsRegistry* metrics)
    : store_(store), log_(std::move(log)) {
    if (metrics) {
        events_total_ = &metrics->counter("analytics_events_total",
                                          "Consumed events by type (usage, purchase, unknown) and outcome "
                                          "(stored, duplicate, malformed)",
                                          {"type", "outcome"});
    }
}

void EventIngestor::count(std::string_view type, std::string_view outcome, std::uint64_t n) {
    if (n > 0 && events_total_) events_total_->labels({type, outcome}).inc(static_cast<double>(n));
}

Result<void> EventIngestor::handle(std::span<const ports::EventRecord> batch) {
    std::vector<ports::UsageEvent> usage;
    std::vector<ports::PurchaseEvent> purchases;
    usage.reserve(batch.size());
    std::uint64_t bad = 0;
    for (const auto& record : batch) {
        auto decoded = decode_event(record.value);
        if (!decoded) {
            ++bad;
            if (log_) {
                log_->warn("malformed event skipped topic={} partition={} offset={} reason={}", record.topic,
                           record.partition, record.offset, decoded.error().message);
            }
            continue;
        }
        if (auto* u = std::get_if<ports::UsageEvent>(&*decoded)) {
            usage.push_back(std::move(*u));
        } else {
            purchases.push_back(std::move(std::get<ports::PurchaseEvent>(*decoded)));
        }
    }
    Result<std::size_t> fresh_usage = std::size_t{0};
    if (!usage.empty()) fresh_usage = store_.store_usage(usage);
    if (!fresh_usage) return fail(fresh_usage.error());
    Result<std::size_t> fresh_purchases = std::size_t{0};
    if (!purchases.empty()) fresh_purchases = store_.store_purchases(purchases);
    if (!fresh_purchases) return fail(fresh_purchases.error());

    // Counted once the batch is handled: a batch that fails is delivered again and counted then.
    malformed_ += bad;
    count("unknown", "malformed", bad);
    stored_ += *fresh_usage + *fresh_purchases;
    duplicates_ += (usage.size() - *fresh_usage) + (purchases.size() - *fresh_purchases);
    count("usage", "stored", *fresh_usage);
    count("usage", "duplicate", usage.size() - *fresh_usage);
    count("purchase", "stored", *fresh_purchases);
    count("purchase", "duplicate", purchases.size() - *fresh_purchases);
    return ok();
}

}  // namespace lt::analytics
