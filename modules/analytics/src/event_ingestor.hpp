#pragma once
/// EventIngestor: the batch handler of the analytics consumers. Decodes a polled batch, stores its
/// usage and purchase events (idempotently, one transaction each) and counts what happened.

#include <atomic>
#include <cstdint>
#include <span>

#include "lt/core/log.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/event_log.hpp"
#include "lt/ports/usage_store.hpp"

namespace lt::analytics {

class EventIngestor {
public:
    /// `store` must outlive the ingestor; `metrics` may be null. No I/O here.
    EventIngestor(ports::UsageStore& store, Logger log, MetricsRegistry* metrics);

    /// Handles one batch. A malformed record is logged (position and reason only, never its content),
    /// counted and skipped; the rest is stored. A storage error is returned so that the consumer
    /// delivers the whole batch again (storing is idempotent). Blocking: consumer threads only. Thread-safe.
    Result<void> handle(std::span<const ports::EventRecord> batch);

    /// Events stored for the first time, redelivered ones ignored, malformed records skipped. Any thread.
    std::uint64_t stored() const { return stored_; }
    std::uint64_t duplicates() const { return duplicates_; }
    std::uint64_t malformed() const { return malformed_; }

private:
    void count(std::string_view type, std::string_view outcome, std::uint64_t n);

    ports::UsageStore& store_;
    Logger log_;
    CounterFamily* events_total_ = nullptr;  ///< analytics_events_total{type,outcome}
    std::atomic<std::uint64_t> stored_{0};
    std::atomic<std::uint64_t> duplicates_{0};
    std::atomic<std::uint64_t> malformed_{0};
};

}  // namespace lt::analytics
