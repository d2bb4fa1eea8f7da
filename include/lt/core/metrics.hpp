#pragma once
/// Metrics registry: counters, gauges and histograms with labels, rendered as Prometheus text (0.0.4).
/// Families and series are created on first use and live as long as the registry; the references
/// handed out stay valid, so hot paths look a series up once and then only touch atomics.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lt {

/// Monotonic counter. Thread-safe.
class Counter {
public:
    /// Adds `v` (lock-free). Negative and NaN increments are ignored: counters only go up.
    void inc(double v = 1.0);
    /// Current total.
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

/// Settable gauge. Thread-safe.
class Gauge {
public:
    /// Replaces the value.
    void set(double v) { value_.store(v, std::memory_order_relaxed); }
    /// Adds `v` (may be negative; lock-free).
    void add(double v);
    /// Current value.
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

/// Cumulative histogram with fixed upper bounds. Thread-safe.
class Histogram {
public:
    /// `bounds`: ascending finite upper bounds, owned by the family and outliving the histogram.
    explicit Histogram(const std::vector<double>* bounds);
    /// Counts `v` in the first bucket whose bound is >= v (lock-free). NaN is ignored.
    void observe(double v);
    /// Snapshot: per-bucket (non-cumulative) counts, total count, sum.
    void snapshot(std::vector<std::uint64_t>& buckets, std::uint64_t& count, double& sum) const;

private:
    const std::vector<double>* bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  ///< one per bound plus +Inf
    std::atomic<double> sum_{0.0};
};

enum class MetricType { counter, gauge, histogram };

/// Orders label-value tuples; also compares a stored tuple with borrowed views, so a lookup of an
/// existing series allocates nothing.
struct LabelValuesLess {
    using is_transparent = void;
    bool operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const { return a < b; }
    bool operator()(const std::vector<std::string>& a, std::span<const std::string_view> b) const;
    bool operator()(std::span<const std::string_view> a, const std::vector<std::string>& b) const;
};

/// A metric name with fixed label names and one series per label-value tuple.
template <class Series>
class Family {
public:
    /// Created by MetricsRegistry. `bounds` (histograms only) are sorted, deduplicated and stripped of
    /// non-finite values; +Inf is implicit.
    Family(std::string name, std::string help, std::vector<std::string> label_names, MetricType type,
           std::vector<double> bounds = {});
    /// The series for these label values (same order as the label names). Thread-safe; the returned
    /// reference stays valid for the registry's lifetime. Missing values are "", extra ones dropped.
    Series& labels(const std::vector<std::string>& values);
    /// Same as above: `family.labels({"GET", "/x", "200"})`. An existing series is found under a
    /// shared lock without allocating; hot paths still keep the returned reference (a "child").
    Series& labels(std::initializer_list<std::string_view> values);
    /// Same as above, from borrowed views.
    Series& labels(std::span<const std::string_view> values);
    /// Appends the Prometheus text of this family. A label-less family with no series yet renders a
    /// zero sample; a labelled one with no series renders nothing. `constant`: pre-rendered labels
    /// (`application="x"`) put first on every sample, or empty.
    void render(std::string& out, std::string_view constant = {}) const;

    /// The metric name.
    const std::string& name() const { return name_; }

private:
    std::string name_, help_;
    std::vector<std::string> label_names_;
    MetricType type_;
    std::vector<double> bounds_;
    Series& insert(std::span<const std::string_view> values);

    mutable std::shared_mutex mutex_;  ///< guards series_ (not the series' values, which are atomic)
    std::map<std::vector<std::string>, std::unique_ptr<Series>, LabelValuesLess> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

/// One sample of a callback family: label values (in label-name order) and the value.
struct CallbackSample {
    std::vector<std::string> labels;
    double value = 0;
};

/// The registry. Thread-safe.
class MetricsRegistry {
public:
    /// Default latency buckets in seconds (1 ms .. 10 s).
    static std::vector<double> default_seconds_buckets();

    /// Returns the family with this name, creating it on first call (later calls must agree).
    CounterFamily& counter(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
    GaugeFamily& gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
    HistogramFamily& histogram(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                               std::vector<double> bounds = default_seconds_buckets());
    /// A gauge read from `fn` at render time (must be thread-safe).
    void gauge_callback(const std::string& name, const std::string& help, std::function<double()> fn);
    /// A family (counter or gauge) whose samples `fn` produces at render time: one family name with a
    /// label (`provider`, `store`) instead of one name per thing. `fn` must be thread-safe and may run
    /// on any thread that renders; registering the same name again replaces it.
    void callback_family(const std::string& name, const std::string& help, MetricType type,
                         std::vector<std::string> label_names, std::function<std::vector<CallbackSample>()> fn);
    /// Labels put on every sample (the `application` label); call before serving. Empty: none.
    void set_constant_labels(std::vector<std::pair<std::string, std::string>> labels);

    /// Prometheus text exposition format 0.0.4, families sorted by name.
    std::string render() const;

private:
    mutable std::mutex mutex_;  ///< guards the maps (families themselves are thread-safe)
    std::map<std::string, std::unique_ptr<CounterFamily>> counters_;
    std::map<std::string, std::unique_ptr<GaugeFamily>> gauges_;
    std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_;
    std::map<std::string, std::pair<std::string, std::function<double()>>> callbacks_;
    struct CallbackFamily {
        std::string help;
        MetricType type;
        std::vector<std::string> label_names;
        std::function<std::vector<CallbackSample>()> fn;
    };
    std::map<std::string, CallbackFamily> callback_families_;
    std::string constant_;  ///< pre-rendered constant labels, e.g. `application="leaky-tokens"`
};

}  // namespace lt
