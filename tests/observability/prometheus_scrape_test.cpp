// A real Prometheus (Debian's `prometheus` package) scrapes a running `leaky-tokens serve`; the test
// asks Prometheus's HTTP API for the series an operator relies on.
#include <doctest/doctest.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "traffic.hpp"

extern char** environ;

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string find_binary(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= p.size()) {
        auto end = p.find(':', start);
        if (end == std::string::npos) end = p.size();
        fs::path candidate = fs::path(p.substr(start, end - start)) / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        start = end + 1;
    }
    return {};
}

/// `prometheus` on a free loopback port with a throwaway config and data directory; killed at the end.
class PrometheusProcess {
public:
    PrometheusProcess(const std::string& binary, const fs::path& dir, std::uint16_t target_port) : port_(lt::test::free_port()) {
        const auto config = dir / "prometheus.yml";
        std::ofstream(config) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                 "scrape_configs:\n  - job_name: leaky-tokens\n    metrics_path: /actuator/prometheus\n"
                                 "    static_configs:\n      - targets: ['127.0.0.1:"
                              << target_port << "']\n";
        std::vector<std::string> args{binary,
                                      "--config.file=" + config.string(),
                                      "--storage.tsdb.path=" + (dir / "tsdb").string(),
                                      "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                      "--log.level=warn"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        const auto log = (dir / "prometheus.log").string();
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        REQUIRE(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) == 0);
        posix_spawn_file_actions_destroy(&actions);
    }
    ~PrometheusProcess() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    PrometheusProcess(const PrometheusProcess&) = delete;
    PrometheusProcess& operator=(const PrometheusProcess&) = delete;

    /// The `data.result` array of an instant query, or null when Prometheus does not answer (yet).
    boost::json::array query(const std::string& promql) const {
        std::string encoded;
        for (unsigned char c : promql) {
            if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
                encoded += static_cast<char>(c);
            } else {
                char buf[4];
                std::snprintf(buf, sizeof buf, "%%%02X", c);
                encoded += buf;
            }
        }
        try {
            auto r = lt::test::http_call(port_, "GET", "/api/v1/query?query=" + encoded);
            if (r.status != 200) return {};
            auto v = boost::json::parse(r.body);
            return v.at("data").at("result").as_array();
        } catch (const std::exception&) {
            return {};
        }
    }

private:
    std::uint16_t port_;
    pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("a real Prometheus scrapes the server and finds the series an operator needs") {
    const auto binary = find_binary("prometheus");
    if (binary.empty()) {
        MESSAGE("SKIPPED: `prometheus` is not installed (Debian package prometheus; scripts/setup.sh installs it)");
        return;
    }
    lt::test::TempDir dir;
    lt::test::ServerProcess server(dir.path() / "server", lt::test::free_port(),
                                   lt::test::ServerSpec{lt::test::with_admin({"metrics.application=leaky-tokens"})});
    lt::test::observability_traffic(server.port());
    fs::create_directories(dir.path() / "prometheus");
    PrometheusProcess prometheus(binary, dir.path() / "prometheus", server.port());

    // The target is up once Prometheus has scraped it.
    bool up = false;
    for (int i = 0; i < 150 && !up; ++i) {
        auto r = prometheus.query("up{job=\"leaky-tokens\"} == 1");
        up = !r.empty();
        if (!up) std::this_thread::sleep_for(200ms);
    }
    REQUIRE_MESSAGE(up, "Prometheus never scraped the server; see " << (dir.path() / "prometheus").string());

    // Each expression must return at least one series (with the application label where asked).
    const std::vector<std::string> must_exist{
        R"(http_server_requests_seconds_count{application="leaky-tokens",uri="/api/v1/tokens/consume",status="200"})",
        R"(token_consume_total{application="leaky-tokens",provider="openai",outcome="allowed"} == 2)",
        R"(token_consume_total{provider="openai",outcome="quota_insufficient"} == 1)",
        R"(token_consumed_tokens_total{provider="openai",model="default",outcome="allowed"} == 80)",
        R"(token_quota_lookup_total{provider="openai",outcome="found"})",
        R"(gateway_api_key_validation_total{outcome="success"})",
        R"(gateway_api_key_validation_total{outcome="failure"})",
        R"(gateway_api_key_cache_total)",
        R"(gateway_rate_limit_total{result="allowed"})",
        R"(auth_register_total{outcome="success"})",
        R"(auth_login_total{outcome="failure"})",
        R"(auth_api_key_create_total{outcome="success"})",
        R"(analytics_usage_query_total{provider="openai",outcome="success"})",
        R"(analytics_report_query_total{provider="openai",outcome="success"})",
        R"(analytics_anomaly_query_total{provider="openai",outcome="success"})",
        R"(token_purchase_saga_started_total >= 1)",
        R"(token_purchase_saga_completed_total >= 1)",
        R"(token_purchase_saga_failed_total)",
        R"(token_outbox_backlog)",
        R"(outbox_relay_lag_seconds >= 0)",
        R"(token_provider_circuit_state{provider="openai"} == 0)",
        R"(store_sql_transaction_seconds_count{database="main",outcome="ok"} > 0)",
        R"(store_kv_call_seconds_count{op="atomic_update",outcome="ok"} > 0)",
        R"(store_event_log_call_seconds_count{op="append",outcome="ok"} > 0)",
        R"(process_cpu_seconds_total > 0)",
        R"(process_resident_memory_bytes > 1e6)",
        R"(process_open_fds > 0)",
        R"(process_start_time_seconds > 1.6e9)",
        R"(http_server_connections)",
    };
    // Counters reach Prometheus on the next scrape after the traffic: wait for the last one asked.
    for (const auto& expr : must_exist) {
        bool found = false;
        for (int i = 0; i < 50 && !found; ++i) {
            found = !prometheus.query(expr).empty();
            if (!found) std::this_thread::sleep_for(100ms);
        }
        CHECK_MESSAGE(found, "no series for " << expr);
    }
    // No metric name per provider any more: the circuit state is one family.
    CHECK(prometheus.query(R"({__name__=~"token_provider_circuit_open_.*"})").empty());
}
