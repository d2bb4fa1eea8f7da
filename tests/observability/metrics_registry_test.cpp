// The registry features the operator's view needs: constant labels, callback families (one family for
// many things), the process collector, and allocation-free lookups of existing series.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include "lt/core/metrics.hpp"
#include "lt/core/process_metrics.hpp"

namespace fs = std::filesystem;

namespace {
bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        if (l == line) return true;
    }
    return false;
}
}  // namespace

TEST_CASE("constant labels come first on every sample, histograms and callbacks included") {
    lt::MetricsRegistry r;
    r.set_constant_labels({{"application", "leaky-tokens"}});
    r.counter("a_total", "A", {"outcome"}).labels({"ok"}).inc(2);
    r.counter("b_total", "B").labels({}).inc();
    r.histogram("c_seconds", "C", {}, {0.5}).labels({}).observe(0.1);
    r.gauge_callback("d", "D", [] { return 3.0; });
    const auto text = r.render();
    CHECK(has_line(text, R"(a_total{application="leaky-tokens",outcome="ok"} 2)"));
    CHECK(has_line(text, R"(b_total{application="leaky-tokens"} 1)"));
    CHECK(has_line(text, R"(c_seconds_bucket{application="leaky-tokens",le="0.5"} 1)"));
    CHECK(has_line(text, R"(c_seconds_count{application="leaky-tokens"} 1)"));
    CHECK(has_line(text, R"(d{application="leaky-tokens"} 3)"));
}

TEST_CASE("a callback family renders one name with a label per thing and declares itself when empty") {
    lt::MetricsRegistry r;
    std::vector<lt::CallbackSample> samples{{{"openai"}, 1}, {{"qwen"}, 0}};
    r.callback_family("circuit_state", "State", lt::MetricType::gauge, {"provider"}, [&] { return samples; });
    r.callback_family("seconds_total", "Seconds", lt::MetricType::counter, {}, [] {
        return std::vector<lt::CallbackSample>{{{}, 1.5}};
    });
    auto text = r.render();
    CHECK(has_line(text, "# TYPE circuit_state gauge"));
    CHECK(has_line(text, R"(circuit_state{provider="openai"} 1)"));
    CHECK(has_line(text, R"(circuit_state{provider="qwen"} 0)"));
    CHECK(has_line(text, "# TYPE seconds_total counter"));
    CHECK(has_line(text, "seconds_total 1.5"));
    samples.clear();
    text = r.render();
    CHECK(has_line(text, "# TYPE circuit_state gauge"));
    CHECK(text.find("circuit_state{") == std::string::npos);
}

TEST_CASE("the process collector reports this process") {
    lt::MetricsRegistry r;
    lt::register_process_metrics(r);
    const auto text = r.render();
    auto value = [&](const std::string& name) {
        auto pos = text.find("\n" + name + " ");
        REQUIRE(pos != std::string::npos);
        return std::strtod(text.c_str() + pos + name.size() + 2, nullptr);
    };
    CHECK(value("process_resident_memory_bytes") > 1e5);
    CHECK(value("process_open_fds") >= 3);
    CHECK(value("process_max_fds") >= value("process_open_fds"));
    CHECK(value("process_start_time_seconds") > 1.6e9);
    CHECK(value("process_start_time_seconds") <= static_cast<double>(std::time(nullptr)) + 1);
    CHECK(value("process_cpu_seconds_total") >= 0);
    CHECK(value("process_threads") >= 1);
    CHECK(has_line(text, "# TYPE process_cpu_seconds_total counter"));
}

TEST_CASE("labels() returns the same series for views, strings and vectors, and pads a short tuple") {
    lt::MetricsRegistry r;
    auto& f = r.counter("x_total", "X", {"a", "b"});
    auto& s1 = f.labels({"p", "q"});
    const std::string p = "p", q = "q";
    auto& s2 = f.labels(std::vector<std::string>{p, q});
    const std::string_view views[] = {p, q};
    auto& s3 = f.labels(std::span<const std::string_view>(views));
    CHECK(&s1 == &s2);
    CHECK(&s1 == &s3);
    CHECK(&f.labels({"p"}) == &f.labels({"p", ""}));
    CHECK(&f.labels({"p", "q", "extra"}) == &s1);
}

TEST_CASE("the output with constant labels and callback families passes promtool check metrics") {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
        MESSAGE("SKIPPED: promtool is not installed (Debian package prometheus)");
        return;
    }
    lt::MetricsRegistry r;
    r.set_constant_labels({{"application", "leaky \"tokens\""}});
    lt::register_process_metrics(r);
    r.counter("token_consume_total", "Consumes", {"provider", "outcome"}).labels({"openai", "allowed"}).inc();
    r.histogram("store_kv_call_seconds", "KV", {"op", "outcome"}).labels({"get", "ok"}).observe(0.001);
    r.callback_family("store_up", "Up", lt::MetricType::gauge, {"store"}, [] { return std::vector<lt::CallbackSample>{}; });
    const fs::path file = fs::temp_directory_path() / ("lt_obs_metrics_" + std::to_string(::getpid()) + ".prom");
    std::ofstream(file) << r.render();
    const std::string command = "promtool check metrics < '" + file.string() + "' >/dev/null 2>&1";
    const int status = std::system(command.c_str());
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    std::error_code ec;
    fs::remove(file, ec);
}
