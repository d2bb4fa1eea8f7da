// Metrics registry and the Prometheus text exposition format 0.0.4.
#include "lt/core/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace lt {
namespace {

/// Prometheus/Go-parsable number: integers without exponent, otherwise the shortest round-trip form.
void append_number(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buffer[64];
    std::to_chars_result result{};
    if (std::trunc(v) == v && std::fabs(v) < 9.007199254740992e15) {
        result = std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::int64_t>(v));
    } else {
        result = std::to_chars(buffer, buffer + sizeof buffer, v);
    }
    out.append(buffer, result.ptr);
}

void append_label_value(std::string& out, std::string_view value) {
    for (const char c : value) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        default: out += c;
        }
    }
}

void append_help(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
    out += "# HELP ";
    out += name;
    out += ' ';
    for (const char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

/// `{c="k",a="x",b="y"}`: the constant labels, the series' labels and an optional extra label
/// (histogram `le`); nothing when there are none.
void append_labels(std::string& out, std::string_view constant, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
    if (names.empty() && extra_name.empty() && constant.empty()) return;
    out += '{';
    bool first = constant.empty();
    out += constant;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (!first) out += ',';
        first = false;
        out += names[i];
        out += "=\"";
        if (i < values.size()) append_label_value(out, values[i]);
        out += '"';
    }
    if (!extra_name.empty()) {
        if (!first) out += ',';
        out += extra_name;
        out += "=\"";
        out += extra_value;
        out += '"';
    }
    out += '}';
}

void append_sample(std::string& out, std::string_view constant, std::string_view name, std::string_view suffix,
                   const std::vector<std::string>& label_names, const std::vector<std::string>& label_values,
                   double value, std::string_view extra_name = {}, std::string_view extra_value = {}) {
    out += name;
    out += suffix;
    append_labels(out, constant, label_names, label_values, extra_name, extra_value);
    out += ' ';
    append_number(out, value);
    out += '\n';
}

std::string_view type_name(MetricType type) {
    switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
    }
    return "untyped";
}

}  // namespace

bool LabelValuesLess::operator()(const std::vector<std::string>& a, std::span<const std::string_view> b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [](std::string_view x, std::string_view y) { return x < y; });
}

bool LabelValuesLess::operator()(std::span<const std::string_view> a, const std::vector<std::string>& b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [](std::string_view x, std::string_view y) { return x < y; });
}

void Counter::inc(double v) {
    // Counters only go up; a negative or NaN increment is a caller bug and is ignored.
    if (!(v >= 0)) return;
    value_.fetch_add(v, std::memory_order_relaxed);
}

void Gauge::add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds->size() + 1)) {}

void Histogram::observe(double v) {
    // NaN would poison the sum forever; it is dropped.
    if (std::isnan(v)) return;
    // Bucket i counts bounds[i-1] < v <= bounds[i]; the last one is +Inf.
    const auto index = static_cast<std::size_t>(std::lower_bound(bounds_->begin(), bounds_->end(), v) -
                                                bounds_->begin());
    counts_[index].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

void Histogram::snapshot(std::vector<std::uint64_t>& buckets, std::uint64_t& count, double& sum) const {
    buckets.resize(bounds_->size() + 1);
    count = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        buckets[i] = counts_[i].load(std::memory_order_relaxed);
        count += buckets[i];
    }
    sum = sum_.load(std::memory_order_relaxed);
}

template <class Series>
Family<Series>::Family(std::string name, std::string help, std::vector<std::string> label_names, MetricType type,
                       std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), type_(type),
      bounds_(std::move(bounds)) {
    // Bounds must be finite, ascending and unique; +Inf is implicit.
    std::erase_if(bounds_, [](double b) { return !std::isfinite(b); });
    std::sort(bounds_.begin(), bounds_.end());
    bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
}

template <class Series>
Series& Family<Series>::labels(const std::vector<std::string>& values) {
    std::vector<std::string_view> views(values.begin(), values.end());
    return labels(std::span<const std::string_view>(views));
}

template <class Series>
Series& Family<Series>::labels(std::initializer_list<std::string_view> values) {
    return labels(std::span<const std::string_view>(values.begin(), values.size()));
}

template <class Series>
Series& Family<Series>::labels(std::span<const std::string_view> values) {
    // A wrong number of values is a caller bug: pad with "" or drop extras rather than throw (the
    // slow path, which normalises the key).
    if (values.size() == label_names_.size()) {
        std::shared_lock lock(mutex_);
        auto it = series_.find(values);
        if (it != series_.end()) return *it->second;
    }
    return insert(values);
}

template <class Series>
Series& Family<Series>::insert(std::span<const std::string_view> values) {
    std::vector<std::string> key(values.begin(), values.begin() + std::min(values.size(), label_names_.size()));
    key.resize(label_names_.size());
    std::unique_lock lock(mutex_);
    auto& slot = series_[std::move(key)];
    if (!slot) {
        if constexpr (std::is_same_v<Series, Histogram>) {
            slot = std::make_unique<Histogram>(&bounds_);
        } else {
            slot = std::make_unique<Series>();
        }
    }
    return *slot;
}

template <class Series>
void Family<Series>::render(std::string& out, std::string_view constant) const {
    std::shared_lock lock(mutex_);
    // A label-less family exports 0 before its first use; a labelled one with no series is left out.
    if (series_.empty() && !label_names_.empty()) return;
    append_help(out, name_, help_, type_name(type_));
    if (series_.empty()) {
        if constexpr (std::is_same_v<Series, Histogram>) {
            std::string le;
            for (const double bound : bounds_) {
                le.clear();
                append_number(le, bound);
                append_sample(out, constant, name_, "_bucket", label_names_, {}, 0, "le", le);
            }
            append_sample(out, constant, name_, "_bucket", label_names_, {}, 0, "le", "+Inf");
            append_sample(out, constant, name_, "_sum", label_names_, {}, 0);
            append_sample(out, constant, name_, "_count", label_names_, {}, 0);
        } else {
            append_sample(out, constant, name_, "", label_names_, {}, 0);
        }
        return;
    }
    std::vector<std::uint64_t> buckets;
    std::string le;
    for (const auto& [values, series] : series_) {
        if constexpr (std::is_same_v<Series, Histogram>) {
            std::uint64_t count = 0;
            double sum = 0;
            series->snapshot(buckets, count, sum);
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i < bounds_.size(); ++i) {
                cumulative += buckets[i];
                le.clear();
                append_number(le, bounds_[i]);
                append_sample(out, constant, name_, "_bucket", label_names_, values, static_cast<double>(cumulative), "le", le);
            }
            append_sample(out, constant, name_, "_bucket", label_names_, values, static_cast<double>(count), "le", "+Inf");
            append_sample(out, constant, name_, "_sum", label_names_, values, sum);
            append_sample(out, constant, name_, "_count", label_names_, values, static_cast<double>(count));
        } else {
            append_sample(out, constant, name_, "", label_names_, values, series->value());
        }
    }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

std::vector<double> MetricsRegistry::default_seconds_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names) {
    std::lock_guard lock(mutex_);
    auto& slot = counters_[name];
    if (!slot) slot = std::make_unique<CounterFamily>(name, help, std::move(label_names), MetricType::counter);
    return *slot;
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names) {
    std::lock_guard lock(mutex_);
    auto& slot = gauges_[name];
    if (!slot) slot = std::make_unique<GaugeFamily>(name, help, std::move(label_names), MetricType::gauge);
    return *slot;
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names, std::vector<double> bounds) {
    std::lock_guard lock(mutex_);
    auto& slot = histograms_[name];
    if (!slot) {
        slot = std::make_unique<HistogramFamily>(name, help, std::move(label_names), MetricType::histogram,
                                                 std::move(bounds));
    }
    return *slot;
}

void MetricsRegistry::gauge_callback(const std::string& name, const std::string& help, std::function<double()> fn) {
    std::lock_guard lock(mutex_);
    callbacks_[name] = {help, std::move(fn)};
}

void MetricsRegistry::callback_family(const std::string& name, const std::string& help, MetricType type,
                                      std::vector<std::string> label_names,
                                      std::function<std::vector<CallbackSample>()> fn) {
    std::lock_guard lock(mutex_);
    callback_families_[name] = CallbackFamily{help, type, std::move(label_names), std::move(fn)};
}

void MetricsRegistry::set_constant_labels(std::vector<std::pair<std::string, std::string>> labels) {
    std::string rendered;
    for (const auto& [name, value] : labels) {
        if (!rendered.empty()) rendered += ',';
        rendered += name;
        rendered += "=\"";
        append_label_value(rendered, value);
        rendered += '"';
    }
    std::lock_guard lock(mutex_);
    constant_ = std::move(rendered);
}

std::string MetricsRegistry::render() const {
    // Families are never removed, so their pointers stay valid after the lock is released; callbacks
    // are copied and run unlocked so that one may itself use the registry.
    struct Item {
        std::string_view name;
        std::function<void(std::string&)> render;
    };
    std::vector<Item> items;
    std::vector<std::pair<std::string, std::pair<std::string, std::function<double()>>>> callbacks;
    std::vector<std::pair<std::string, CallbackFamily>> families;
    std::string constant;
    {
        std::lock_guard lock(mutex_);
        constant = constant_;
        for (const auto& [name, family] : counters_) {
            items.push_back({name, [f = family.get(), &constant](std::string& o) { f->render(o, constant); }});
        }
        for (const auto& [name, family] : gauges_) {
            items.push_back({name, [f = family.get(), &constant](std::string& o) { f->render(o, constant); }});
        }
        for (const auto& [name, family] : histograms_) {
            items.push_back({name, [f = family.get(), &constant](std::string& o) { f->render(o, constant); }});
        }
        callbacks.assign(callbacks_.begin(), callbacks_.end());
        families.assign(callback_families_.begin(), callback_families_.end());
    }
    for (const auto& [name, entry] : callbacks) {
        items.push_back({name, [&entry = entry, &name = name, &constant](std::string& o) {
                             append_help(o, name, entry.first, "gauge");
                             append_sample(o, constant, name, "", {}, {}, entry.second ? entry.second() : 0.0);
                         }});
    }
    for (const auto& [name, family] : families) {
        items.push_back({name, [&f = family, &name = name, &constant](std::string& o) {
                             auto samples = f.fn ? f.fn() : std::vector<CallbackSample>{};
                             // A labelled family with no samples still declares itself (HELP/TYPE).
                             append_help(o, name, f.help, type_name(f.type));
                             if (samples.empty() && f.label_names.empty()) samples.push_back({});
                             for (const auto& s : samples) {
                                 append_sample(o, constant, name, "", f.label_names, s.labels, s.value);
                             }
                         }});
    }
    std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.name < b.name; });
    std::string out;
    out.reserve(4096);
    for (const auto& item : items) item.render(out);
    return out;
}

}  // namespace lt
