// Every PromQL expression shipped for operators (Grafana dashboards, Prometheus alert rules) reads only
// metrics the product exports: a renamed metric breaks this test, not a dashboard in production.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include "promql_names.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "traffic.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path kSource{LT_SOURCE_DIR};

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// Every `expr` string anywhere in a Grafana dashboard (panels, rows, templating queries).
void collect_exprs(const boost::json::value& v, std::vector<std::string>& out) {
    if (v.is_object()) {
        for (const auto& [k, child] : v.as_object()) {
            if ((k == "expr" || k == "query") && child.is_string()) {
                out.emplace_back(child.as_string());
            } else if (k == "query" && child.is_object() && child.as_object().contains("query")) {
                out.emplace_back(child.as_object().at("query").as_string());
            } else {
                collect_exprs(child, out);
            }
        }
    } else if (v.is_array()) {
        for (const auto& child : v.as_array()) collect_exprs(child, out);
    }
}

/// `label_values(metric, label)` in templating: the metric is its first argument.
std::string template_metric(const std::string& q) {
    const std::string prefix = "label_values(";
    if (q.rfind(prefix, 0) != 0) return {};
    auto end = q.find_first_of(",{)", prefix.size());
    return q.substr(prefix.size(), end - prefix.size());
}

struct Expression {
    std::string where;
    std::string promql;
};

std::vector<Expression> shipped_expressions() {
    std::vector<Expression> out;
    for (const auto& entry : fs::directory_iterator(kSource / "deploy/grafana/dashboards")) {
        if (entry.path().extension() != ".json") continue;
        std::vector<std::string> exprs;
        collect_exprs(boost::json::parse(read_text(entry.path())), exprs);
        for (auto& e : exprs) out.push_back({entry.path().filename().string(), std::move(e)});
    }
    auto rules = YAML::LoadFile((kSource / "deploy/prometheus/alert-rules.yml").string());
    for (const auto& group : rules["groups"]) {
        for (const auto& rule : group["rules"]) {
            const auto name = rule["alert"] ? rule["alert"].as<std::string>() : rule["record"].as<std::string>();
            out.push_back({"alert-rules.yml " + name, rule["expr"].as<std::string>()});
        }
    }
    return out;
}

}  // namespace

TEST_CASE("the PromQL reader finds metric names and skips functions, labels, ranges and variables") {
    auto names = lt::test::promql_metric_names(
        R"(histogram_quantile(0.95, sum by (le, uri) (rate(http_server_requests_seconds_bucket{uri=~"$route", status!="5.."}[$__rate_interval]))) > 1 and on(application) up offset 5m)");
    CHECK(names == std::set<std::string>{"http_server_requests_seconds_bucket", "up"});
    CHECK(lt::test::promql_metric_names(R"(sum(increase(token_consume_total{outcome="allowed"}[24h])) / 1e3)") ==
          std::set<std::string>{"token_consume_total"});
}

TEST_CASE("every metric a dashboard or an alert rule reads is exported by a running server") {
    const auto expressions = shipped_expressions();
    REQUIRE(expressions.size() > 20);
    lt::test::TempDir dir;
    lt::test::ServerProcess server(dir.path(), lt::test::free_port(),
                                   lt::test::ServerSpec{lt::test::with_admin({"metrics.application=leaky-tokens"})});
    lt::test::observability_traffic(server.port());
    // Usage events reach analytics through the outbox and the event log: wait for them to be stored.
    std::string text;
    for (int i = 0; i < 100; ++i) {
        text = lt::test::http_call(server.port(), "GET", "/actuator/prometheus").body;
        if (text.find("\nanalytics_events_total{") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::set<std::string> exported;  // names a query may use: counters/gauges as is, histograms with suffixes
    for (const auto& family : lt::test::declared_families(text)) {
        const auto space = family.find(' ');
        const auto name = family.substr(0, space);
        if (family.substr(space + 1) == "histogram") {
            for (const char* s : {"_bucket", "_sum", "_count"}) exported.insert(name + s);
        } else {
            exported.insert(name);
        }
    }
    exported.insert("up");  // Prometheus's own per-target series
    exported.insert("ALERTS");
    std::size_t names_checked = 0;
    for (const auto& e : expressions) {
        auto names = lt::test::promql_metric_names(e.promql);
        const auto templ = template_metric(e.promql);
        if (!templ.empty()) names = {templ};
        CHECK_MESSAGE(!names.empty(), e.where << ": no metric in " << e.promql);
        for (const auto& n : names) {
            ++names_checked;
            CHECK_MESSAGE(exported.count(n) == 1, e.where << ": `" << n << "` is not exported (expression: " << e.promql
                                                          << ")");
        }
    }
    MESSAGE(expressions.size() << " expressions, " << names_checked << " metric references checked");
}
