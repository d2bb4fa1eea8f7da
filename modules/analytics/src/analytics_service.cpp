#include "analytics_service.hpp"

#include <algorithm>
#include <chrono>

#include "query_params.hpp"

namespace lt::analytics {

using std::chrono::milliseconds;
using std::chrono::minutes;

ports::TimeRange Window::range() const { return ports::TimeRange{start, end + milliseconds(1)}; }

double Report::average_tokens_per_event() const {
    if (totals.allowed_events == 0) return 0.0;
    return static_cast<double>(totals.allowed_tokens) / static_cast<double>(totals.allowed_events);
}

AnalyticsService::AnalyticsService(ports::UsageStore& store, const Clock& clock, QueryLimits limits)
    : store_(store), clock_(clock), limits_(limits) {}

ports::UsageTime AnalyticsService::now() const {
    // Millisecond resolution everywhere: what the store keeps and what RFC 3339 output shows.
    return std::chrono::floor<milliseconds>(clock_.now());
}

Window AnalyticsService::window(std::optional<std::int64_t> minutes_param) const {
    const auto w = clamp_param(minutes_param, limits_.default_window_minutes, limits_.max_window_minutes);
    const auto end = now();
    return Window{end - minutes(w), end};
}

Result<std::vector<ports::UsageEvent>> AnalyticsService::usage(const UsageQuery& q) const {
    const auto limit = std::clamp<std::int64_t>(q.limit.value_or(limits_.default_usage_limit), 1, limits_.max_usage_limit);
    return store_.recent_usage(ports::UsageScope{q.provider, q.viewer.user}, static_cast<std::size_t>(limit));
}

Result<Report> AnalyticsService::report(const ReportQuery& q) const {
    Report out;
    out.window = window(q.window_minutes);
    out.sample_limit = clamp_param(q.limit, limits_.max_limit, limits_.max_limit);
    // Per-user totals add up to the window's totals: one exact read gives both.
    auto users = store_.breakdown(ports::UsageScope{q.provider, q.viewer.user}, out.window.range(),
                                  ports::UsageDimension::user);
    if (!users) return fail(users.error());
    std::vector<TopUser> ranked;
    for (const auto& u : *users) {
        out.totals += u.totals;
        if (!u.key.empty()) ++out.unique_users;
        if (!u.key.empty() && u.totals.allowed_tokens > 0) {
            ranked.push_back(TopUser{u.key, u.totals.allowed_tokens, u.totals.events()});
        }
    }
    std::sort(ranked.begin(), ranked.end(), [](const TopUser& a, const TopUser& b) {
        if (a.total_tokens != b.total_tokens) return a.total_tokens > b.total_tokens;
        return a.user_id < b.user_id;
    });
    if (ranked.size() > static_cast<std::size_t>(limits_.max_top_users)) {
        ranked.resize(static_cast<std::size_t>(limits_.max_top_users));
    }
    out.top_users = std::move(ranked);
    auto models = store_.breakdown(ports::UsageScope{q.provider, q.viewer.user}, out.window.range(),
                                   ports::UsageDimension::model);
    if (!models) return fail(models.error());
    out.models = std::move(*models);
    std::sort(out.models.begin(), out.models.end(), [](const ports::GroupTotals& a, const ports::GroupTotals& b) {
        if (a.totals.allowed_tokens != b.totals.allowed_tokens) return a.totals.allowed_tokens > b.totals.allowed_tokens;
        return a.key < b.key;
    });
    return out;
}

Result<Anomaly> AnalyticsService::anomalies(const AnomalyQuery& q) const {
    Anomaly out;
    out.window = window(q.window_minutes);
    out.baseline_windows = clamp_param(q.baseline_windows, limits_.default_baseline_windows, limits_.max_baseline_windows);
    out.threshold = q.threshold ? std::max(1.0, *q.threshold) : limits_.default_threshold;
    out.sample_limit = clamp_param(q.limit, limits_.max_limit, limits_.max_limit);
    const auto w = out.window.end - out.window.start;
    // Baseline i (1..B) = [now − (i+1)W, now − iW), oldest first; then the current [now − W, now].
    std::vector<ports::UsageTime> edges;
    for (std::int64_t i = out.baseline_windows; i >= 1; --i) edges.push_back(out.window.end - (i + 1) * w);
    edges.push_back(out.window.start);
    edges.push_back(out.window.range().to);
    auto sums = store_.series(ports::UsageScope{q.provider, q.viewer.user}, edges);
    if (!sums) return fail(sums.error());
    std::int64_t baseline_total = 0;
    for (std::size_t i = 0; i + 1 < sums->size(); ++i) baseline_total += (*sums)[i].allowed_tokens;
    out.current_tokens = sums->empty() ? 0 : sums->back().allowed_tokens;
    out.baseline_average = static_cast<double>(baseline_total) / static_cast<double>(out.baseline_windows);
    if (out.baseline_average > 0) {
        out.ratio = static_cast<double>(out.current_tokens) / out.baseline_average;
        out.anomaly = *out.ratio >= out.threshold;
    }
    return out;
}

Result<Trend> AnalyticsService::trends(const TrendQuery& q) const {
    Trend out;
    const auto w = clamp_param(q.window_minutes, limits_.default_window_minutes, limits_.max_window_minutes);
    auto b = std::min(clamp_param(q.bucket_minutes, limits_.default_bucket_minutes, w), w);
    // Too many buckets: longer ones, so that the answer stays bounded.
    if ((w + b - 1) / b > limits_.max_buckets) b = (w + limits_.max_buckets - 1) / limits_.max_buckets;
    const auto count = (w + b - 1) / b;
    out.bucket_minutes = b;
    const auto end = now();
    out.window = Window{end - minutes(count * b), end};
    std::vector<ports::UsageTime> edges;
    for (std::int64_t i = 0; i < count; ++i) edges.push_back(out.window.start + minutes(i * b));
    edges.push_back(out.window.range().to);
    auto sums = store_.series(ports::UsageScope{q.provider, q.viewer.user}, edges);
    if (!sums) return fail(sums.error());
    for (std::size_t i = 0; i < sums->size(); ++i) {
        const auto bucket_end = i + 2 < edges.size() ? edges[i + 1] : end;
        out.buckets.push_back(TrendBucket{edges[i], bucket_end, (*sums)[i]});
    }
    return out;
}

Result<ProviderSummary> AnalyticsService::providers(const Viewer& viewer, std::optional<std::int64_t> window_minutes) const {
    ProviderSummary out;
    out.window = window(window_minutes);
    auto groups = store_.breakdown(ports::UsageScope{std::nullopt, viewer.user}, out.window.range(),
                                   ports::UsageDimension::provider);
    if (!groups) return fail(groups.error());
    out.providers = std::move(*groups);
    return out;
}

Result<UserSummary> AnalyticsService::user(const std::string& user_id, std::optional<std::int64_t> window_minutes) const {
    UserSummary out;
    out.window = window(window_minutes);
    const ports::UsageScope scope{std::nullopt, user_id};
    auto groups = store_.breakdown(scope, out.window.range(), ports::UsageDimension::provider);
    if (!groups) return fail(groups.error());
    for (const auto& g : *groups) out.totals += g.totals;
    out.providers = std::move(*groups);
    auto purchases = store_.purchases(scope, out.window.range());
    if (!purchases) return fail(purchases.error());
    out.purchases = *purchases;
    return out;
}

}  // namespace lt::analytics
