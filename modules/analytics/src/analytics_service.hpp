#pragma once
/// AnalyticsService: the queries behind the HTTP endpoints, over the UsageStore port and a clock. It
/// applies the parameter rules (defaults, clamps) and the contract's arithmetic (CONTRACT.md 23-26).
/// Every method blocks on the store: call it on the blocking pool, never on an I/O thread.
/// Thread-safe (no mutable state).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analytics_config.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/usage_store.hpp"

namespace lt::analytics {

/// A closed window [start, end]; `end` is the query time, truncated to the millisecond.
struct Window {
    ports::UsageTime start{};
    ports::UsageTime end{};
    /// The same window as a half-open range [start, end + 1 ms).
    ports::TimeRange range() const;
};

/// Who may be seen: `user` set = only that user's events (non-admins), nullopt = everyone.
struct Viewer {
    std::optional<std::string> user;
};

struct UsageQuery {
    std::string provider;
    Viewer viewer;
    std::optional<std::int64_t> limit;  ///< default 20, clamped to [1, 200]
};

struct ReportQuery {
    std::string provider;
    Viewer viewer;
    std::optional<std::int64_t> window_minutes;
    std::optional<std::int64_t> limit;
};

struct TopUser {
    std::string user_id;
    std::int64_t total_tokens = 0;  ///< allowed tokens
    std::int64_t events = 0;        ///< all events, denied included
};

struct Report {
    Window window;
    ports::UsageTotals totals;
    std::int64_t unique_users = 0;
    std::int64_t sample_limit = 0;
    std::vector<TopUser> top_users;
    /// Chat-completion events per model (allowed tokens descending, then name).
    std::vector<ports::GroupTotals> models;
    /// totalTokens ÷ allowedEvents, 0 when there are none.
    double average_tokens_per_event() const;
};

struct AnomalyQuery {
    std::string provider;
    Viewer viewer;
    std::optional<std::int64_t> window_minutes;
    std::optional<std::int64_t> baseline_windows;
    std::optional<double> threshold;
    std::optional<std::int64_t> limit;
};

struct Anomaly {
    Window window;                   ///< the current window
    std::int64_t baseline_windows = 0;
    std::int64_t current_tokens = 0;
    double baseline_average = 0;
    std::optional<double> ratio;     ///< nullopt when the baseline average is 0
    double threshold = 0;
    bool anomaly = false;
    std::int64_t sample_limit = 0;
};

struct TrendQuery {
    std::string provider;
    Viewer viewer;
    std::optional<std::int64_t> window_minutes;
    std::optional<std::int64_t> bucket_minutes;
};

struct TrendBucket {
    ports::UsageTime start{};
    ports::UsageTime end{};  ///< start of the next bucket; the query time for the last one
    ports::UsageTotals totals;
};

struct Trend {
    Window window;                   ///< from the first bucket's start to the query time
    std::int64_t bucket_minutes = 0; ///< the effective bucket length
    std::vector<TrendBucket> buckets;  ///< oldest first, empty ones included
};

struct ProviderSummary {
    Window window;
    std::vector<ports::GroupTotals> providers;  ///< providers with events, by name
};

struct UserSummary {
    Window window;
    ports::UsageTotals totals;
    std::vector<ports::GroupTotals> providers;  ///< providers with events, by name
    ports::PurchaseTotals purchases;
};

class AnalyticsService {
public:
    /// `store` and `clock` must outlive the service.
    AnalyticsService(ports::UsageStore& store, const Clock& clock, QueryLimits limits);

    /// N2: the newest usage events of a provider.
    Result<std::vector<ports::UsageEvent>> usage(const UsageQuery& q) const;
    /// N3: totals, unique users and top users over the window.
    Result<Report> report(const ReportQuery& q) const;
    /// N4: allowed tokens of the current window against the average of the baseline windows.
    Result<Anomaly> anomalies(const AnomalyQuery& q) const;
    /// Per-bucket totals of a provider over the window.
    Result<Trend> trends(const TrendQuery& q) const;
    /// Per-provider totals over the window.
    Result<ProviderSummary> providers(const Viewer& viewer, std::optional<std::int64_t> window_minutes) const;
    /// One user's per-provider totals and purchase figures over the window.
    Result<UserSummary> user(const std::string& user_id, std::optional<std::int64_t> window_minutes) const;

private:
    /// [now − minutes, now] with the clamped window length.
    Window window(std::optional<std::int64_t> minutes) const;
    ports::UsageTime now() const;

    ports::UsageStore& store_;
    const Clock& clock_;
    QueryLimits limits_;
};

}  // namespace lt::analytics
