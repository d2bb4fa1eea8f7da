// POST /actuator/refresh: re-reading the configuration (local file, config.url) and applying the
// refreshable keys without a restart; config.changed.v1 to the other processes.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <boost/json.hpp>

#include "lt/core/cluster.hpp"
#include "lt/core/crypto.hpp"
#include "support/accounts.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::http_call;
using lt::test::TestApp;

namespace {
constexpr const char* kSecret = "refresh-cluster-secret";

std::map<std::string, std::string> signed_headers(const std::string& method, const std::string& target,
                                                  const std::string& body) {
    std::map<std::string, std::string> h;
    for (auto& [k, v] : lt::cluster::sign(kSecret, method, target, std::nullopt, "", lt::crypto::sha256_hex(body),
                                          std::chrono::system_clock::now())) {
        h[k] = v;
    }
    return h;
}

void write_limit(const std::filesystem::path& file, int capacity, int max_in_flight = 4096) {
    std::ofstream(file) << "gateway:\n  rate-limit:\n    capacity: " << capacity
                        << "\n    window-seconds: 30\nserver:\n  max-in-flight: " << max_in_flight << "\n";
}

std::vector<std::string> strings(const boost::json::value& v) {
    std::vector<std::string> out;
    for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

/// Polls until the edge limit the gateway announces is `want` (another process applies a refresh
/// asynchronously).
bool limit_becomes(std::uint16_t port, const std::string& want, std::chrono::seconds patience) {
    const auto until = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < until) {
        if (http_call(port, "GET", "/oauth2/jwks").header("x-ratelimit-limit") == want) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
}
}  // namespace

TEST_CASE("POST /actuator/refresh applies a changed rate limit from the local file and names restart-only keys") {
    lt::test::TempDir dir{"refresh-local"};
    const auto file = dir.path() / "leaky-tokens.yml";
    write_limit(file, 5);
    lt::app::AppOptions options;
    options.load = lt::config::LoadOptions{};
    options.load->file = file;
    TestApp app(lt::test::with_admin(), options);
    CHECK(http_call(app.port(), "GET", "/oauth2/jwks").header("x-ratelimit-limit") == "5");

    write_limit(file, 8, 100);
    // ADMIN only: no credentials → 401, a USER → 403, and nothing is applied.
    CHECK(http_call(app.port(), "POST", "/actuator/refresh").status == 401);
    auto user = lt::test::signup(app.port(), "refresher");
    CHECK(http_call(app.port(), "POST", "/actuator/refresh", "", user.auth()).status == 403);
    CHECK(http_call(app.port(), "GET", "/oauth2/jwks").header("x-ratelimit-limit") == "5");

    auto root = lt::test::admin(app.port());
    auto r = http_call(app.port(), "POST", "/actuator/refresh", "", root.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto body = boost::json::parse(r.body);
    CHECK(strings(body.at("changed")) == std::vector<std::string>{"gateway.rate-limit.capacity"});
    CHECK(strings(body.at("restartRequired")) == std::vector<std::string>{"server.max-in-flight"});
    auto after = http_call(app.port(), "GET", "/oauth2/jwks");
    CHECK(after.header("x-ratelimit-limit") == "8");
    CHECK(after.header("ratelimit-policy") == "\"edge\";q=8;w=30");

    // Nothing changed since: an empty answer.
    auto again = boost::json::parse(http_call(app.port(), "POST", "/actuator/refresh", "", root.auth()).body);
    CHECK(again.at("changed").as_array().empty());
    CHECK(again.at("restartRequired").as_array().empty());
}

TEST_CASE("a token bucket and a feature flag change take effect after a refresh") {
    lt::test::TempDir dir{"refresh-token"};
    const auto file = dir.path() / "leaky-tokens.yml";
    std::ofstream(file) << "feature:\n  flags:\n    token-service:\n      saga-purchases: false\n";
    lt::app::AppOptions options;
    options.load = lt::config::LoadOptions{};
    options.load->file = file;
    TestApp app(lt::test::with_admin(), options);
    auto root = lt::test::admin(app.port());
    const std::string purchase =
        boost::json::serialize(boost::json::object{{"userId", root.id}, {"provider", "openai"}, {"tokens", 10}});
    CHECK(http_call(app.port(), "POST", "/api/v1/tokens/purchase", purchase, root.auth()).status == 503);
    std::ofstream(file) << "feature:\n  flags:\n    token-service:\n      saga-purchases: true\n";
    auto r = http_call(app.port(), "POST", "/actuator/refresh", "", root.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(contains(strings(boost::json::parse(r.body).at("changed")), "feature.flags.token-service.saga-purchases"));
    CHECK(http_call(app.port(), "POST", "/api/v1/tokens/purchase", purchase, root.auth()).status != 503);
}

TEST_CASE("a process with config.url re-fetches it on refresh: a signed call, no restart") {
    lt::test::TempDir dir{"refresh-url"};
    write_limit(dir.path() / "leaky-tokens.yml", 7);
    TestApp server(lt::test::with_admin({"config.server.search-locations=" + dir.path().string(),
                                         std::string("cluster.secret=") + kSecret}));
    lt::test::TempDir child_dir{"refresh-url-child"};
    lt::test::ServerProcess child(child_dir.path(), {"config.url=http://127.0.0.1:" + std::to_string(server.port()),
                                                     std::string("cluster.secret=") + kSecret});
    CHECK(http_call(child.port(), "GET", "/oauth2/jwks").header("x-ratelimit-limit") == "7");
    write_limit(dir.path() / "leaky-tokens.yml", 11);
    auto r = http_call(child.port(), "POST", "/actuator/refresh", "", signed_headers("POST", "/actuator/refresh", ""));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(contains(strings(boost::json::parse(r.body).at("changed")), "gateway.rate-limit.capacity"));
    CHECK(http_call(child.port(), "GET", "/oauth2/jwks").header("x-ratelimit-limit") == "11");
    // A wrong signature is refused.
    auto forged = signed_headers("POST", "/actuator/refresh", "");
    forged.begin()->second += "x";
    CHECK(http_call(child.port(), "POST", "/actuator/refresh", "", forged).status == 401);
}

TEST_CASE("config.changed.v1: a refresh on one process makes another process re-fetch config.url") {
    lt::test::TempDir dir{"refresh-bus"};
    write_limit(dir.path() / "leaky-tokens.yml", 7);  // served by A's config module
    lt::test::TempDir a_dir{"refresh-bus-a"};
    const auto a_file = a_dir.path() / "local.yml";
    write_limit(a_file, 3);
    lt::app::AppOptions options;
    options.load = lt::config::LoadOptions{};
    options.load->file = a_file;
    // A: every module, the registry itself (split mode), the config module.
    TestApp a({"config.server.search-locations=" + dir.path().string(), std::string("cluster.secret=") + kSecret,
               "registry.url=http://127.0.0.1:1", "registry.fetch-interval=200ms"},
              options);
    const auto a_url = "http://127.0.0.1:" + std::to_string(a.port());
    // B: its own gateway, configured by A's config module, registered in A's registry.
    lt::test::TempDir b_dir{"refresh-bus-b"};
    lt::test::ServerProcess b(b_dir.path(), lt::test::free_port(),
                              lt::test::ServerSpec{{"config.url=" + a_url, "registry.url=" + a_url,
                                                    std::string("cluster.secret=") + kSecret,
                                                    "registry.fetch-interval=200ms"},
                                                   "gateway,providers",
                                                   {},
                                                   "warn",
                                                   "server.log",
                                                   {}});
    REQUIRE(limit_becomes(b.port(), "7", std::chrono::seconds(10)));

    write_limit(dir.path() / "leaky-tokens.yml", 13);
    write_limit(a_file, 4);
    // A sees B in its registry table before it announces (fetched every 200 ms).
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    auto r = http_call(a.port(), "POST", "/actuator/refresh", "", signed_headers("POST", "/actuator/refresh", ""));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(contains(strings(boost::json::parse(r.body).at("changed")), "gateway.rate-limit.capacity"));
    CHECK(http_call(a.port(), "GET", "/oauth2/jwks").header("x-ratelimit-limit") == "4");
    // B was not called: it follows config.changed.v1 and re-fetches config.url.
    CHECK(limit_becomes(b.port(), "13", std::chrono::seconds(10)));
}
