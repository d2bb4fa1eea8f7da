#pragma once
/// Typed configuration of the analytics module (analytics.*).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "lt/core/config.hpp"
#include "lt/core/result.hpp"

namespace lt::analytics {

/// Defaults and maxima of the query parameters (seed-behavior.md §4.7, §5.4).
struct QueryLimits {
    std::int64_t default_window_minutes = 60;
    std::int64_t max_window_minutes = 1440;
    std::int64_t max_limit = 5000;               ///< report/anomalies sampleLimit default and maximum
    std::int64_t default_baseline_windows = 4;
    std::int64_t max_baseline_windows = 24;
    std::int64_t max_top_users = 5;
    double default_threshold = 2.0;              ///< anomaly threshold multiplier
    std::int64_t default_usage_limit = 20;       ///< /usage (fixed by the original contract)
    std::int64_t max_usage_limit = 200;
    std::int64_t default_bucket_minutes = 5;     ///< /trends
    std::int64_t max_buckets = 288;
};

struct AnalyticsConfig {
    bool consume = true;                          ///< run the event consumers
    std::string usage_topic = "token-usage";
    std::string purchase_topic = "token-purchase-events";
    std::string group = "analytics";
    std::size_t max_batch = 500;                  ///< records stored per transaction at most
    std::chrono::milliseconds raw_retention{30LL * 24 * 3600 * 1000};
    std::chrono::milliseconds rollup_retention{90LL * 24 * 3600 * 1000};
    std::chrono::milliseconds purge_interval{3600 * 1000};
    /// analytics.retention.compact-raw-events-after: raw usage events older than this are deleted
    /// (compacted into the rollups, which keep their totals); 0 keeps them for raw_retention.
    std::chrono::milliseconds compact_after{60 * 1000};
    QueryLimits limits;
};

/// Reads and cross-checks analytics.* (invalid_argument naming the keys when inconsistent).
Result<AnalyticsConfig> parse_config(const config::Config& cfg);

}  // namespace lt::analytics
