#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "lt/core/metrics.hpp"

namespace fs = std::filesystem;

namespace {

bool contains_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string current; std::getline(in, current);) {
        if (current == line) return true;
    }
    return false;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++count;
    return count;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace

TEST_CASE("metrics counters, gauges and histograms count exactly under eight threads") {
    lt::MetricsRegistry registry;
    auto& counter = registry.counter("test_events_total", "Events.", {"kind"}).labels({"a"});
    auto& gauge = registry.gauge("test_level", "Level.").labels({});
    auto& histogram = registry.histogram("test_latency_seconds", "Latency.", {}, {0.5, 1.5}).labels({});
    constexpr int kThreads = 8;
    constexpr int kPerThread = 100000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                counter.inc();
                gauge.add(t % 2 == 0 ? 2.0 : -1.0);
                histogram.observe(i % 2 == 0 ? 0.25 : 1.0);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    CHECK(counter.value() == static_cast<double>(kThreads * kPerThread));
    CHECK(gauge.value() == static_cast<double>(kThreads / 2 * kPerThread));
    std::vector<std::uint64_t> buckets;
    std::uint64_t count = 0;
    double sum = 0;
    histogram.snapshot(buckets, count, sum);
    CHECK(count == static_cast<std::uint64_t>(kThreads * kPerThread));
    CHECK(buckets == std::vector<std::uint64_t>{kThreads * kPerThread / 2, kThreads * kPerThread / 2, 0});
    CHECK(sum == doctest::Approx(kThreads * kPerThread / 2 * 1.25));
}

TEST_CASE("a metrics counter ignores negative and NaN increments") {
    lt::Counter counter;
    counter.inc(2.5);
    counter.inc(-1);
    counter.inc(std::numeric_limits<double>::quiet_NaN());
    CHECK(counter.value() == 2.5);
}

TEST_CASE("metrics histogram buckets are cumulative, bounds are inclusive and +Inf, sum and count follow") {
    lt::MetricsRegistry registry;
    auto& family = registry.histogram("req_seconds", "Request time.", {"route"}, {0.125, 0.5, 1});
    auto& series = family.labels({"r"});
    for (const double v : {0.0625, 0.125, 0.375, 0.5, 0.75, 2.0, 100.0}) series.observe(v);
    const std::string text = registry.render();
    INFO(text);
    CHECK(contains_line(text, "# HELP req_seconds Request time."));
    CHECK(contains_line(text, "# TYPE req_seconds histogram"));
    CHECK(contains_line(text, "req_seconds_bucket{route=\"r\",le=\"0.125\"} 2"));
    CHECK(contains_line(text, "req_seconds_bucket{route=\"r\",le=\"0.5\"} 4"));
    CHECK(contains_line(text, "req_seconds_bucket{route=\"r\",le=\"1\"} 5"));
    CHECK(contains_line(text, "req_seconds_bucket{route=\"r\",le=\"+Inf\"} 7"));
    CHECK(contains_line(text, "req_seconds_count{route=\"r\"} 7"));
    CHECK(contains_line(text, "req_seconds_sum{route=\"r\"} 103.8125"));
}

TEST_CASE("metrics label values and help text are escaped") {
    lt::MetricsRegistry registry;
    registry.counter("esc_total", "Help with \\ and\nnewline.", {"v"}).labels({"a\\b\"c\nd"}).inc();
    const std::string text = registry.render();
    INFO(text);
    CHECK(contains_line(text, "# HELP esc_total Help with \\\\ and\\nnewline."));
    CHECK(contains_line(text, "esc_total{v=\"a\\\\b\\\"c\\nd\"} 1"));
}

TEST_CASE("the metrics registry returns the same family for the same name and writes HELP and TYPE once") {
    lt::MetricsRegistry registry;
    auto& first = registry.counter("same_total", "Same.", {"k"});
    auto& second = registry.counter("same_total", "Same.", {"k"});
    CHECK(&first == &second);
    CHECK(&first.labels({"x"}) == &second.labels({"x"}));
    first.labels({"x"}).inc();
    second.labels({"y"}).inc(3);
    const std::string text = registry.render();
    CHECK(count_of(text, "# HELP same_total") == 1);
    CHECK(count_of(text, "# TYPE same_total") == 1);
    CHECK(contains_line(text, "same_total{k=\"x\"} 1"));
    CHECK(contains_line(text, "same_total{k=\"y\"} 3"));
}

TEST_CASE("metrics numbers are written without exponent when integral and special values are spelled out") {
    lt::MetricsRegistry registry;
    auto& gauge = registry.gauge("num_value", "Numbers.", {"case"});
    gauge.labels({"big"}).set(123456789012.0);
    gauge.labels({"frac"}).set(0.25);
    gauge.labels({"neg"}).set(-3);
    gauge.labels({"inf"}).set(std::numeric_limits<double>::infinity());
    gauge.labels({"ninf"}).set(-std::numeric_limits<double>::infinity());
    gauge.labels({"nan"}).set(std::numeric_limits<double>::quiet_NaN());
    registry.gauge_callback("num_callback", "Callback.", [] { return 42.0; });
    registry.counter("num_unused_total", "Never touched.");
    const std::string text = registry.render();
    INFO(text);
    CHECK(contains_line(text, "num_value{case=\"big\"} 123456789012"));
    CHECK(contains_line(text, "num_value{case=\"frac\"} 0.25"));
    CHECK(contains_line(text, "num_value{case=\"neg\"} -3"));
    CHECK(contains_line(text, "num_value{case=\"inf\"} +Inf"));
    CHECK(contains_line(text, "num_value{case=\"ninf\"} -Inf"));
    CHECK(contains_line(text, "num_value{case=\"nan\"} NaN"));
    CHECK(contains_line(text, "num_callback 42"));
    CHECK(contains_line(text, "num_unused_total 0"));
}

TEST_CASE("the prometheus output passes promtool check metrics") {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
        FAIL("promtool not found: install the Debian package 'prometheus' (it provides /usr/bin/promtool)");
    }
    lt::MetricsRegistry registry;
    auto& consumed = registry.counter("token_consume_total", "Consume attempts by outcome.", {"provider", "outcome"});
    consumed.labels({"openai", "allowed"}).inc(5);
    consumed.labels({"qwen", "rate_limited"}).inc();
    consumed.labels({"we\"ird\\", "line\nbreak"}).inc(0.5);
    registry.gauge("bus_queue_depth", "Messages waiting on the bus.").labels({}).set(7);
    registry.gauge_callback("process_open_connections", "Open HTTP connections.", [] { return 12.0; });
    auto& requests = registry.histogram("http_server_requests_seconds", "HTTP server request duration.",
                                        {"method", "uri", "status"});
    requests.labels({"POST", "/api/v1/tokens/consume", "200"}).observe(0.0042);
    requests.labels({"POST", "/api/v1/tokens/consume", "200"}).observe(0.3);
    requests.labels({"GET", "/actuator/health", "200"}).observe(12);
    registry.histogram("bus_latency_seconds", "Bus dispatch latency.", {});

    const fs::path file = fs::temp_directory_path() / ("lt_metrics_" + std::to_string(::getpid()) + ".prom");
    const fs::path output = fs::path(file).replace_extension(".out");
    std::ofstream(file) << registry.render();
    const std::string command = "promtool check metrics < '" + file.string() + "' > '" + output.string() + "' 2>&1";
    const int status = std::system(command.c_str());
    const std::string report = read_text(output);
    INFO("rendered:\n" << read_text(file));
    INFO("promtool said:\n" << report);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    std::error_code ec;
    fs::remove(file, ec);
    fs::remove(output, ec);
}
