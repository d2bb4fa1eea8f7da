#pragma once
/// Tracing: W3C trace context (`traceparent`) and spans exported as OTLP/HTTP JSON.
///
/// A Tracer without an endpoint records nothing (its spans only pass the caller's traceparent on).
/// With one, a span ended by any thread is queued (bounded: a full queue drops the span and counts it
/// in tracing_spans_dropped_total, never blocking the caller) and an exporter thread posts batches to
/// `tracing.otlp.endpoint` (`http://host:port/path`, deadline per post). Sampling is parent-based: a
/// traced caller's decision is kept, a new trace is sampled with `tracing.sampling-ratio`.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lt {
class MetricsRegistry;

/// Trace id, span id and the sampled flag of one span.
struct SpanContext {
    std::array<std::uint8_t, 16> trace_id{};
    std::array<std::uint8_t, 8> span_id{};
    bool sampled = false;

    /// Parses `00-<32 hex>-<16 hex>-<2 hex>`; nullopt when malformed or all-zero ids.
    static std::optional<SpanContext> parse(std::string_view traceparent);
    /// `00-<trace>-<span>-<01|00>`.
    std::string traceparent() const;
    /// Lower-case hex of the trace id.
    std::string trace_id_hex() const;
};

enum class SpanKind { internal = 1, server = 2, client = 3 };

class Tracer;

/// One operation. Move-only; ends (and is queued for export) on end() or destruction. Used by one
/// thread (or one coroutine) at a time.
class Span {
public:
    Span();
    Span(Span&& other) noexcept;
    Span& operator=(Span&& other) noexcept;
    Span(const Span&) = delete;
    Span& operator=(const Span&) = delete;
    ~Span();

    /// The traceparent to pass to callees: this span's context; the parent's unchanged when the tracer
    /// is off; "" when neither exists.
    const std::string& traceparent() const { return traceparent_; }
    /// True when the span will be exported.
    bool recording() const { return tracer_ != nullptr; }
    /// Replaces the name (e.g. once the route is known).
    void set_name(std::string name);
    void set_attribute(std::string key, std::string value);
    void set_attribute(std::string key, std::int64_t value);
    /// Marks the span failed (OTLP status ERROR) with `message`.
    void set_error(std::string message);
    /// Ends the span now (idempotent).
    void end();

private:
    friend class Tracer;
    struct Data;
    Tracer* tracer_ = nullptr;
    std::unique_ptr<Data> data_;
    std::string traceparent_;
};

struct TracerOptions {
    std::string endpoint;                              ///< OTLP/HTTP traces URL; empty: tracing off
    double sampling_ratio = 1.0;                       ///< 0..1 for traces started here
    std::size_t queue_capacity = 4096;                 ///< spans waiting for export
    std::size_t batch_size = 256;                      ///< spans per post
    std::chrono::milliseconds export_interval{1000};   ///< longest wait before a partial batch is sent
    std::chrono::milliseconds timeout{5000};           ///< deadline of one post (connect included)
    std::string service_name = "leaky-tokens";
};

/// Thread-safe.
class Tracer {
public:
    /// Starts the exporter thread when `options.endpoint` is set. `metrics` may be null.
    Tracer(TracerOptions options, MetricsRegistry* metrics);
    ~Tracer();
    Tracer(const Tracer&) = delete;
    Tracer& operator=(const Tracer&) = delete;

    /// True when spans are exported.
    bool enabled() const { return !options_.endpoint.empty(); }
    /// A span child of `parent_traceparent` (a new trace when it is empty or malformed). Any thread.
    Span start(std::string name, std::string_view parent_traceparent, SpanKind kind = SpanKind::internal);

    /// Spans sent, dropped (queue full or failed post). Any thread.
    std::uint64_t exported() const;
    std::uint64_t dropped() const;

private:
    friend class Span;
    struct Exporter;
    void finish(std::unique_ptr<Span::Data> data);

    TracerOptions options_;
    std::unique_ptr<Exporter> exporter_;
};

/// Tracer options from `tracing.*` of a configuration.
namespace config {
class Config;
}
TracerOptions tracer_options(const config::Config& cfg);

}  // namespace lt
