#include "analytics_config.hpp"

#include "lt/analytics/analytics.hpp"

namespace lt::analytics {

void describe_config(config::Schema& s) {
    using config::Type;
    s.add({"analytics.token-usage.enabled", Type::boolean, "Consume usage and purchase events (both topics)."});
    s.add({"analytics.token-usage.topic", Type::string, "Topic of the usage events."});
    s.add({"analytics.token-usage.group", Type::string, "Consumer group of the analytics usage consumers (purchase events: this name + `-purchases`)."});
    s.add({"analytics.token-usage.max-batch", Type::integer, "Events stored per transaction at most.", 1, 10000});
    s.add({"analytics.purchase-events.topic", Type::string, "Topic of the purchase saga events."});
    s.add({"analytics.report.default-window-minutes", Type::integer, "Window of report, anomalies and the other queries when none is given.", 1});
    s.add({"analytics.report.max-window-minutes", Type::integer, "Largest window a query may ask for.", 1});
    s.add({"analytics.report.max-limit", Type::integer, "sampleLimit of report and anomalies (default and maximum).", 1});
    s.add({"analytics.report.max-baseline-windows", Type::integer, "Most baseline windows of an anomaly query.", 1});
    s.add({"analytics.report.max-top-users", Type::integer, "Users listed in a report's topUsers at most.", 1});
    s.add({"analytics.report.default-baseline-windows", Type::integer, "Baseline windows of an anomaly query when none is given.", 1});
    s.add({"analytics.report.default-anomaly-threshold-multiplier", Type::number, "Anomaly threshold when none is given.", 1.0});
    s.add({"analytics.trends.default-bucket-minutes", Type::integer, "Bucket length of /trends when none is given.", 1});
    s.add({"analytics.trends.max-buckets", Type::integer, "Most buckets of one /trends answer (longer buckets are used beyond).", 1, 10000});
    s.add({"analytics.retention.raw-events", Type::duration, "How long raw events are kept (at least the largest window).", 60000});
    s.add({"analytics.retention.rollups", Type::duration, "How long per-minute rollups are kept (at least the raw retention).", 60000});
    s.add({"analytics.retention.compact-raw-events-after", Type::duration,
           "Raw usage events older than this are compacted into the per-minute rollups (deleted; the rollups keep "
           "their totals); 0 keeps them for analytics.retention.raw-events.", 0});
    s.add({"analytics.retention.purge-interval", Type::duration, "How often expired events and rollups are purged.", 1000});
}

Result<AnalyticsConfig> parse_config(const config::Config& c) {
    AnalyticsConfig a;
    a.consume = c.get_bool("analytics.token-usage.enabled", a.consume);
    a.usage_topic = c.get_string("analytics.token-usage.topic", a.usage_topic);
    a.group = c.get_string("analytics.token-usage.group", a.group);
    a.max_batch = static_cast<std::size_t>(c.get_int("analytics.token-usage.max-batch", static_cast<std::int64_t>(a.max_batch)));
    a.purchase_topic = c.get_string("analytics.purchase-events.topic", a.purchase_topic);
    auto& l = a.limits;
    l.default_window_minutes = c.get_int("analytics.report.default-window-minutes", l.default_window_minutes);
    l.max_window_minutes = c.get_int("analytics.report.max-window-minutes", l.max_window_minutes);
    l.max_limit = c.get_int("analytics.report.max-limit", l.max_limit);
    l.max_baseline_windows = c.get_int("analytics.report.max-baseline-windows", l.max_baseline_windows);
    l.max_top_users = c.get_int("analytics.report.max-top-users", l.max_top_users);
    l.default_baseline_windows = c.get_int("analytics.report.default-baseline-windows", l.default_baseline_windows);
    l.default_threshold = c.get_double("analytics.report.default-anomaly-threshold-multiplier", l.default_threshold);
    l.default_bucket_minutes = c.get_int("analytics.trends.default-bucket-minutes", l.default_bucket_minutes);
    l.max_buckets = c.get_int("analytics.trends.max-buckets", l.max_buckets);
    a.raw_retention = c.get_duration("analytics.retention.raw-events", a.raw_retention);
    a.rollup_retention = c.get_duration("analytics.retention.rollups", a.rollup_retention);
    a.purge_interval = c.get_duration("analytics.retention.purge-interval", a.purge_interval);
    a.compact_after = c.get_duration("analytics.retention.compact-raw-events-after", a.compact_after);

    std::string errors;
    if (a.usage_topic.empty() || a.purchase_topic.empty() || a.group.empty()) {
        errors += "analytics.token-usage.topic, analytics.purchase-events.topic and analytics.token-usage.group must not be empty\n";
    }
    if (l.default_window_minutes > l.max_window_minutes) {
        errors += "analytics.report.default-window-minutes exceeds analytics.report.max-window-minutes\n";
    }
    if (l.default_baseline_windows > l.max_baseline_windows) {
        errors += "analytics.report.default-baseline-windows exceeds analytics.report.max-baseline-windows\n";
    }
    // Windows reach back (B + 1) × W for anomalies; their partial minutes need the raw events.
    const auto reach = std::chrono::minutes(l.max_window_minutes * (l.max_baseline_windows + 1));
    if (a.raw_retention < reach) {
        errors += "analytics.retention.raw-events is shorter than the oldest anomaly baseline "
                  "(max-window-minutes x (max-baseline-windows + 1) = " + std::to_string(reach.count()) + " minutes)\n";
    }
    if (a.rollup_retention < a.raw_retention) {
        errors += "analytics.retention.rollups is shorter than analytics.retention.raw-events\n";
    }
    if (!errors.empty()) {
        errors.pop_back();
        return fail(Errc::invalid_argument, errors);
    }
    return a;
}

}  // namespace lt::analytics
