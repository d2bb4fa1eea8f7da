// Spans, W3C trace context and the OTLP/HTTP JSON exporter (own thread, plain HTTP/1.1 with deadlines).
#include "lt/core/tracer.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lt/core/config.hpp"
#include "lt/core/metrics.hpp"

namespace lt {
namespace {

std::uint64_t now_unix_nanos() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

template <std::size_t N>
void random_bytes(std::array<std::uint8_t, N>& out) {
    thread_local std::mt19937_64 rng{std::random_device{}() ^ static_cast<std::uint64_t>(now_unix_nanos())};
    for (std::size_t i = 0; i < N; i += 8) {
        const auto v = rng();
        for (std::size_t j = 0; j < 8 && i + j < N; ++j) out[i + j] = static_cast<std::uint8_t>(v >> (8 * j));
    }
}

template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(2 * N, '0');
    for (std::size_t i = 0; i < N; ++i) {
        out[2 * i] = kDigits[bytes[i] >> 4];
        out[2 * i + 1] = kDigits[bytes[i] & 0xF];
    }
    return out;
}

template <std::size_t N>
bool unhex(std::string_view s, std::array<std::uint8_t, N>& out) {
    if (s.size() != 2 * N) return false;
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;  // W3C: lower-case only
    };
    bool nonzero = false;
    for (std::size_t i = 0; i < N; ++i) {
        const int hi = digit(s[2 * i]), lo = digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
        nonzero = nonzero || out[i] != 0;
    }
    return nonzero;
}

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
}

}  // namespace

std::optional<SpanContext> SpanContext::parse(std::string_view t) {
    // version "00": exactly 55 characters; later versions may append fields after the flags.
    if (t.size() < 55 || t[2] != '-' || t[35] != '-' || t[52] != '-') return std::nullopt;
    if (t.substr(0, 2) == "ff" || (t.substr(0, 2) == "00" && t.size() != 55)) return std::nullopt;
    SpanContext c;
    std::array<std::uint8_t, 1> flags{};
    if (!unhex(t.substr(3, 32), c.trace_id) || !unhex(t.substr(36, 16), c.span_id)) return std::nullopt;
    const auto f = t.substr(53, 2);
    const auto d = [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); };
    if (!d(f[0]) || !d(f[1])) return std::nullopt;
    flags[0] = static_cast<std::uint8_t>(std::stoi(std::string(f), nullptr, 16));
    c.sampled = (flags[0] & 1) != 0;
    return c;
}

std::string SpanContext::traceparent() const {
    return "00-" + hex(trace_id) + "-" + hex(span_id) + (sampled ? "-01" : "-00");
}

std::string SpanContext::trace_id_hex() const { return hex(trace_id); }

struct Span::Data {
    SpanContext ctx;
    std::array<std::uint8_t, 8> parent{};
    bool has_parent = false;
    std::string name;
    SpanKind kind = SpanKind::internal;
    std::uint64_t start_ns = 0, end_ns = 0;
    std::string attributes;  ///< rendered OTLP attribute objects, comma-separated
    bool error = false;
    std::string status_message;
};

Span::Span(Span&& o) noexcept
    : tracer_(std::exchange(o.tracer_, nullptr)), data_(std::move(o.data_)), traceparent_(std::move(o.traceparent_)) {}

Span& Span::operator=(Span&& o) noexcept {
    if (this != &o) {
        end();
        tracer_ = std::exchange(o.tracer_, nullptr);
        data_ = std::move(o.data_);
        traceparent_ = std::move(o.traceparent_);
    }
    return *this;
}

Span::Span() = default;

Span::~Span() { end(); }

void Span::set_name(std::string name) {
    if (data_) data_->name = std::move(name);
}

void Span::set_attribute(std::string key, std::string value) {
    if (!data_) return;
    auto& a = data_->attributes;
    if (!a.empty()) a += ',';
    a += "{\"key\":";
    append_json_string(a, key);
    a += ",\"value\":{\"stringValue\":";
    append_json_string(a, value);
    a += "}}";
}

void Span::set_attribute(std::string key, std::int64_t value) {
    if (!data_) return;
    auto& a = data_->attributes;
    if (!a.empty()) a += ',';
    a += "{\"key\":";
    append_json_string(a, key);
    a += ",\"value\":{\"intValue\":\"" + std::to_string(value) + "\"}}";
}

void Span::set_error(std::string message) {
    if (!data_) return;
    data_->error = true;
    data_->status_message = std::move(message);
}

void Span::end() {
    if (!tracer_ || !data_) return;
    data_->end_ns = now_unix_nanos();
    auto* t = std::exchange(tracer_, nullptr);
    t->finish(std::move(data_));
}

struct Tracer::Exporter {
    struct Counters {
        std::atomic<std::uint64_t> exported{0}, dropped{0};
    };
    TracerOptions options;
    std::shared_ptr<Counters> counters = std::make_shared<Counters>();
    std::mutex mutex;  ///< guards queue and stopping
    std::condition_variable cv;
    std::deque<std::unique_ptr<Span::Data>> queue;
    bool stopping = false;
    std::thread thread;
    std::string host, port, path;

    std::string render(const std::vector<std::unique_ptr<Span::Data>>& batch) const {
        std::string out = R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":)";
        append_json_string(out, options.service_name);
        out += R"(}}]},"scopeSpans":[{"scope":{"name":"leaky-tokens"},"spans":[)";
        bool first = true;
        for (const auto& s : batch) {
            if (!first) out += ',';
            first = false;
            out += "{\"traceId\":\"" + hex(s->ctx.trace_id) + "\",\"spanId\":\"" + hex(s->ctx.span_id) + "\"";
            if (s->has_parent) out += ",\"parentSpanId\":\"" + hex(s->parent) + "\"";
            out += ",\"name\":";
            append_json_string(out, s->name);
            out += ",\"kind\":" + std::to_string(static_cast<int>(s->kind));
            out += ",\"startTimeUnixNano\":\"" + std::to_string(s->start_ns) + "\"";
            out += ",\"endTimeUnixNano\":\"" + std::to_string(s->end_ns) + "\"";
            out += ",\"attributes\":[" + s->attributes + "]";
            out += ",\"status\":{\"code\":" + std::string(s->error ? "2" : "0");
            if (s->error) {
                out += ",\"message\":";
                append_json_string(out, s->status_message);
            }
            out += "}}";
        }
        out += "]}]}]}";
        return out;
    }

    /// POSTs `body`; true on a 2xx answer within the deadline.
    bool post(const std::string& body) const {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) return false;
        bool ok = false;
        const int fd = ::socket(res->ai_family, res->ai_socktype, res->ai_protocol);
        if (fd >= 0) {
            timeval tv{};
            tv.tv_sec = static_cast<time_t>(options.timeout.count() / 1000);
            tv.tv_usec = static_cast<suseconds_t>((options.timeout.count() % 1000) * 1000);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // also bounds connect() on Linux
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            if (::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
                std::string req = "POST " + path + " HTTP/1.1\r\nHost: " + host + ":" + port +
                                  "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                                  "\r\nConnection: close\r\n\r\n" + body;
                std::size_t sent = 0;
                while (sent < req.size()) {
                    const auto n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
                    if (n <= 0) break;
                    sent += static_cast<std::size_t>(n);
                }
                // The status line, then the rest of the answer until the receiver closes (Connection:
                // close), so it is not reset mid-answer; each read bounded by the deadline.
                char buf[64] = {};
                std::size_t got = 0;
                while (sent == req.size() && got < 12) {
                    const auto n = ::recv(fd, buf + got, sizeof buf - 1 - got, 0);
                    if (n <= 0) break;
                    got += static_cast<std::size_t>(n);
                }
                ok = got >= 12 && std::strncmp(buf, "HTTP/1.", 7) == 0 && buf[9] == '2';
                char rest[1024];
                for (int reads = 0; ok && reads < 64 && ::recv(fd, rest, sizeof rest, 0) > 0; ++reads) {
                }
            }
            ::close(fd);
        }
        ::freeaddrinfo(res);
        return ok;
    }

    void run() {
        for (;;) {
            std::vector<std::unique_ptr<Span::Data>> batch;
            bool stop = false;
            {
                std::unique_lock lock(mutex);
                cv.wait_for(lock, options.export_interval,
                            [&] { return stopping || queue.size() >= options.batch_size; });
                stop = stopping;
                while (!queue.empty() && batch.size() < options.batch_size) {
                    batch.push_back(std::move(queue.front()));
                    queue.pop_front();
                }
                if (stop && batch.empty()) return;
            }
            if (batch.empty()) continue;
            if (post(render(batch))) {
                counters->exported.fetch_add(batch.size(), std::memory_order_relaxed);
            } else {
                counters->dropped.fetch_add(batch.size(), std::memory_order_relaxed);
            }
        }
    }
};

Tracer::Tracer(TracerOptions options, MetricsRegistry* metrics) : options_(std::move(options)) {
    if (options_.endpoint.empty()) return;
    exporter_ = std::make_unique<Exporter>();
    auto& e = *exporter_;
    e.options = options_;
    std::string_view url = options_.endpoint;
    if (url.rfind("http://", 0) == 0) url.remove_prefix(7);
    const auto slash = url.find('/');
    e.path = slash == std::string_view::npos ? "/v1/traces" : std::string(url.substr(slash));
    const auto authority = url.substr(0, slash);
    const auto colon = authority.rfind(':');
    e.host = std::string(authority.substr(0, colon));
    e.port = colon == std::string_view::npos ? "4318" : std::string(authority.substr(colon + 1));
    if (metrics) {
        std::weak_ptr<Exporter::Counters> weak = e.counters;
        metrics->callback_family("tracing_spans_exported_total", "Spans posted to the OTLP endpoint", MetricType::counter,
                                 {}, [weak] {
                                     auto c = weak.lock();
                                     return std::vector<CallbackSample>{{{}, c ? static_cast<double>(c->exported) : 0.0}};
                                 });
        metrics->callback_family("tracing_spans_dropped_total",
                                 "Spans dropped: export queue full or the OTLP endpoint refused or did not answer",
                                 MetricType::counter, {}, [weak] {
                                     auto c = weak.lock();
                                     return std::vector<CallbackSample>{{{}, c ? static_cast<double>(c->dropped) : 0.0}};
                                 });
    }
    e.thread = std::thread([&e] { e.run(); });
}

Tracer::~Tracer() {
    if (!exporter_) return;
    {
        std::lock_guard lock(exporter_->mutex);
        exporter_->stopping = true;
    }
    exporter_->cv.notify_one();
    exporter_->thread.join();
}

Span Tracer::start(std::string name, std::string_view parent_traceparent, SpanKind kind) {
    Span span;
    if (!enabled()) {
        span.traceparent_ = std::string(parent_traceparent);
        return span;
    }
    auto parent = parent_traceparent.empty() ? std::nullopt : SpanContext::parse(parent_traceparent);
    auto data = std::make_unique<Span::Data>();
    if (parent) {
        data->ctx.trace_id = parent->trace_id;
        data->ctx.sampled = parent->sampled;
        data->parent = parent->span_id;
        data->has_parent = true;
    } else {
        random_bytes(data->ctx.trace_id);
        thread_local std::mt19937_64 rng{std::random_device{}()};
        data->ctx.sampled = options_.sampling_ratio >= 1.0 ||
                            std::uniform_real_distribution<double>(0, 1)(rng) < options_.sampling_ratio;
    }
    random_bytes(data->ctx.span_id);
    span.traceparent_ = data->ctx.traceparent();
    if (!data->ctx.sampled) return span;  // propagated, not recorded
    data->name = std::move(name);
    data->kind = kind;
    data->start_ns = now_unix_nanos();
    span.data_ = std::move(data);
    span.tracer_ = this;
    return span;
}

void Tracer::finish(std::unique_ptr<Span::Data> data) {
    auto& e = *exporter_;
    bool wake = false;
    {
        std::lock_guard lock(e.mutex);
        if (e.queue.size() >= options_.queue_capacity) {
            e.counters->dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        e.queue.push_back(std::move(data));
        wake = e.queue.size() >= options_.batch_size;
    }
    if (wake) e.cv.notify_one();
}

std::uint64_t Tracer::exported() const { return exporter_ ? exporter_->counters->exported.load() : 0; }
std::uint64_t Tracer::dropped() const { return exporter_ ? exporter_->counters->dropped.load() : 0; }

TracerOptions tracer_options(const config::Config& cfg) {
    TracerOptions o;
    o.endpoint = cfg.get_string("tracing.otlp.endpoint", "");
    o.sampling_ratio = cfg.get_double("tracing.sampling-ratio", 1.0);
    o.queue_capacity = static_cast<std::size_t>(cfg.get_int("tracing.queue-size", 4096));
    return o;
}

}  // namespace lt
