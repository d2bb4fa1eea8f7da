#include "lt/core/log.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "lt/core/config.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/request_scope.hpp"

namespace lt {
namespace {

/// `%?`: the request the line was written for (RequestScope of the writing thread), when there is one.
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [%n] %?%v";
constexpr const char* kJsonPattern = R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n",%?%*})";
/// Access lines already are JSON objects: embedded as they are.
constexpr const char* kJsonAccessPattern = R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","logger":"%n",%?"access":%v})";

void append_json_string(spdlog::memory_buf_t& dest, std::string_view s) {
    dest.push_back('"');
    for (const char c : s) {
        switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\r': dest.append(std::string_view("\\r")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                dest.append(std::string_view(buf));
            } else {
                dest.push_back(c);
            }
        }
    }
    dest.push_back('"');
}

bool key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

/// `%?` in JSON: `"request_id":"…","trace_id":"…",` (trace_id only when traced); in text:
/// `[req=… trace=…] `. Nothing outside a request. Reads the thread's RequestScope: the line is
/// formatted on the thread that wrote it (stderr sinks are synchronous, the access sink formats
/// before queueing).
class RequestFlag final : public spdlog::custom_flag_formatter {
public:
    explicit RequestFlag(bool json) : json_(json) {}
    void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
        const auto* scope = current_request();
        if (!scope || scope->request_id.empty()) return;
        const auto trace = scope->trace_id();
        if (json_) {
            dest.append(std::string_view("\"request_id\":"));
            append_json_string(dest, scope->request_id);
            if (!trace.empty()) {
                dest.append(std::string_view(",\"trace_id\":\""));
                dest.append(trace);
                dest.push_back('"');
            }
            dest.push_back(',');
        } else {
            dest.append(std::string_view("[req="));
            dest.append(std::string_view(scope->request_id));
            if (!trace.empty()) {
                dest.append(std::string_view(" trace="));
                dest.append(trace);
            }
            dest.append(std::string_view("] "));
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<RequestFlag>(json_); }

private:
    bool json_;
};

/// `%*`: `"msg":"<phrase>"` then `"k":"v"` for each ` k=v` of the message (STYLE.md: an event phrase
/// and key=value pairs; a value runs to the next ` k=`).
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        std::string_view text(msg.payload.data(), msg.payload.size());
        const auto* scope = current_request();
        const bool in_request = scope && !scope->request_id.empty();
        // Start offsets of " key=" tokens.
        std::vector<std::size_t> keys;
        for (std::size_t i = 0; i + 1 < text.size(); ++i) {
            if (text[i] != ' ' || !key_char(text[i + 1])) continue;
            std::size_t j = i + 1;
            while (j < text.size() && key_char(text[j])) ++j;
            if (j < text.size() && text[j] == '=') keys.push_back(i + 1);
        }
        dest.append(std::string_view("\"msg\":"));
        append_json_string(dest, text.substr(0, keys.empty() ? text.size() : keys[0] - 1));
        for (std::size_t k = 0; k < keys.size(); ++k) {
            const auto start = keys[k];
            const auto end = k + 1 < keys.size() ? keys[k + 1] - 1 : text.size();
            const auto eq = text.find('=', start);
            auto name = text.substr(start, eq - start);
            if (name == "ts" || name == "level" || name == "logger" || name == "msg") continue;
            if ((name == "request_id" || name == "trace_id") && in_request) continue;  // from %? already
            dest.push_back(',');
            append_json_string(dest, name);
            dest.push_back(':');
            append_json_string(dest, text.substr(eq + 1, end - eq - 1));
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

std::unique_ptr<spdlog::formatter> make_formatter(bool json, const char* json_pattern = kJsonPattern) {
    auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    if (json) {
        f->add_flag<JsonMessageFlag>('*').add_flag<RequestFlag>('?', true).set_pattern(json_pattern);
    } else {
        f->add_flag<RequestFlag>('?', false).set_pattern(kTextPattern);
    }
    return f;
}

/// One stderr sink per format, shared by every logger of that format so lines never interleave.
std::shared_ptr<spdlog::sinks::sink> stderr_sink(bool json) {
    static auto text = [] {
        auto s = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        s->set_formatter(make_formatter(false));
        return s;
    }();
    static auto js = [] {
        auto s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        s->set_formatter(make_formatter(true));
        return s;
    }();
    return json ? std::static_pointer_cast<spdlog::sinks::sink>(js) : text;
}

bool json_format(const config::Config& cfg) { return cfg.get_string("log.format", "text") == "json"; }

std::string level_of(const std::string& name, const config::Config& cfg) {
    const auto own = "log.modules." + name;
    if (cfg.has(own)) return cfg.get_string(own);
    return cfg.get_string("log.level", "info");
}

/// The access-log sink: formats on the caller's thread (into a string), queues it (bounded), and a
/// writer thread appends batches to the file and flushes once per batch. Only info lines (the access
/// lines) are taken; warnings and errors of the same logger go to stderr.
class AccessSink final : public spdlog::sinks::sink {
public:
    static constexpr std::size_t kCapacity = 16384;  ///< lines waiting; beyond: dropped and counted
    static constexpr std::size_t kWakeBatch = 1024;  ///< lines that wake the writer before its interval
    static constexpr std::chrono::milliseconds kFlushInterval{50};  ///< longest delay of a line

    AccessSink(std::FILE* out, bool owned, bool json)
        : out_(out), owned_(owned), formatter_(make_formatter(json, kJsonAccessPattern)) {
        writer_ = std::thread([this] { run(); });
    }
    ~AccessSink() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_one();
        writer_.join();
        if (owned_) std::fclose(out_);
    }

    void log(const spdlog::details::log_msg& msg) override {
        if (msg.level != spdlog::level::info) return;
        spdlog::memory_buf_t buf;
        {
            std::lock_guard lock(format_mutex_);
            formatter_->format(msg, buf);
        }
        std::string line(buf.data(), buf.size());
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            if (queue_.size() >= kCapacity) {
                dropped_.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            queue_.push_back(std::move(line));
            // The writer wakes by itself every kFlushInterval; a notify (a futex call) only when a
            // large batch is waiting, so a busy server pays no wake-up per line.
            wake = queue_.size() == kWakeBatch;
        }
        if (wake) cv_.notify_one();
    }
    void flush() override {}
    void set_pattern(const std::string&) override {}
    void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

    /// Lines dropped because the queue was full. Any thread.
    double dropped() const { return static_cast<double>(dropped_.load(std::memory_order_relaxed)); }

private:
    void run() {
        std::deque<std::string> batch;
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                cv_.wait_for(lock, kFlushInterval, [&] { return stopping_ || queue_.size() >= kWakeBatch; });
                if (queue_.empty() && stopping_) break;
                if (queue_.empty()) continue;
                batch.swap(queue_);
            }
            for (const auto& line : batch) std::fwrite(line.data(), 1, line.size(), out_);
            std::fflush(out_);
            batch.clear();
        }
    }

    std::FILE* out_;
    bool owned_;
    std::mutex format_mutex_;  ///< guards formatter_ (pattern formatters keep a cache)
    std::unique_ptr<spdlog::formatter> formatter_;
    std::mutex mutex_;  ///< guards queue_ and stopping_
    std::condition_variable cv_;
    std::deque<std::string> queue_;
    bool stopping_ = false;
    std::atomic<std::uint64_t> dropped_{0};
    std::thread writer_;
};

/// Forwards warnings and errors to the shared stderr sink (whose format and lock it keeps).
class WarningsSink final : public spdlog::sinks::sink {
public:
    explicit WarningsSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}
    void log(const spdlog::details::log_msg& msg) override {
        if (msg.level >= spdlog::level::warn && msg.level != spdlog::level::off) inner_->log(msg);
    }
    void flush() override { inner_->flush(); }
    void set_pattern(const std::string&) override {}
    void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

private:
    std::shared_ptr<spdlog::sinks::sink> inner_;
};

}  // namespace

Logger make_logger(const std::string& name, const std::string& level) {
    auto logger = std::make_shared<spdlog::logger>(name, stderr_sink(false));
    logger->set_level(spdlog::level::from_str(level));
    return logger;
}

Logger make_logger(const std::string& name, const config::Config& cfg) {
    auto logger = std::make_shared<spdlog::logger>(name, stderr_sink(json_format(cfg)));
    logger->set_level(spdlog::level::from_str(level_of(name, cfg)));
    return logger;
}

Result<Logger> make_access_logger(const std::string& target, const config::Config& cfg, MetricsRegistry* metrics) {
    if (target == "off" || target.empty()) return make_logger("access", cfg);
    std::FILE* out = stdout;
    bool owned = false;
    if (target != "stdout") {
        out = std::fopen(target.c_str(), "a");
        if (!out) return fail(Errc::invalid_argument, "server.access-log: cannot open " + target);
        owned = true;
    }
    const bool json = json_format(cfg);
    auto sink = std::make_shared<AccessSink>(out, owned, json);
    auto logger = std::make_shared<spdlog::logger>("access", spdlog::sinks_init_list{sink, std::make_shared<WarningsSink>(stderr_sink(json))});
    // The access lines are info: the access log is written whatever log.level says; stderr still
    // takes warnings and errors only.
    logger->set_level(spdlog::level::info);
    if (metrics) {
        std::weak_ptr<AccessSink> weak = sink;
        metrics->callback_family("log_access_dropped_total", "Access-log lines dropped because the writer fell behind",
                                 MetricType::counter, {}, [weak] {
                                     auto s = weak.lock();
                                     return std::vector<CallbackSample>{{{}, s ? s->dropped() : 0.0}};
                                 });
    }
    return Logger(logger);
}

}  // namespace lt
