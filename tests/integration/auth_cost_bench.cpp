// Not a test: a measurement, skipped by default (performance is never asserted in unit tests).
// Run: build/tests/integration_test -tc="gateway authentication cost*" --no-skip
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <vector>

#include <boost/json.hpp>

#include "support/test_app.hpp"
#include "support/test_http.hpp"

namespace {
double median_us(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <class F>
std::vector<double> time_each(int n, F&& f) {
    std::vector<double> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        f(i);
        out.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    return out;
}
}  // namespace

TEST_CASE("gateway authentication cost per request, cache hit and miss" * doctest::skip()) {
    lt::test::TestApp app({"auth.api-key.max-per-user=1000"});
    auto port = app.port();
    auto reg = lt::test::http_call(port, "POST", "/api/v1/auth/register",
                                   R"({"username":"cost","email":"cost@example.com","password":"cost-password-1"})");
    auto o = boost::json::parse(reg.body).as_object();
    std::string uid(o.at("userId").as_string()), token(o.at("token").as_string());
    std::map<std::string, std::string> bearer{{"Authorization", "Bearer " + token}};
    const int n = 400;
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) {
        auto r = lt::test::http_call(port, "POST", "/api/v1/auth/api-keys", R"({"userId":")" + uid + "\"}", bearer);
        keys.emplace_back(boost::json::parse(r.body).as_object().at("apiKey").as_string());
    }
    lt::test::TestConnection c(port);
    const std::string path = "/actuator/health/liveness";  // kernel route: authentication not consulted
    const std::string chat = "/api/v1/openai/chat";
    const std::string body = R"({"prompt":"x"})";
    c.request("POST", chat, body, bearer);  // warm the JWT cache
    auto base = time_each(n, [&](int) { c.request("GET", path); });
    auto jwt_hit = time_each(n, [&](int) { c.request("POST", chat, body, bearer); });
    auto key_miss = time_each(n, [&](int i) { c.request("POST", chat, body, {{"X-Api-Key", keys[static_cast<std::size_t>(i)]}}); });
    auto key_hit = time_each(n, [&](int i) { c.request("POST", chat, body, {{"X-Api-Key", keys[static_cast<std::size_t>(i)]}}); });
    std::vector<std::string> tokens;
    for (int i = 0; i < 40; ++i) {
        auto r = lt::test::http_call(port, "POST", "/api/v1/auth/login", R"({"username":"cost","password":"cost-password-1"})");
        tokens.emplace_back(boost::json::parse(r.body).as_object().at("token").as_string());
    }
    auto jwt_miss = time_each(40, [&](int i) {
        c.request("POST", chat, body, {{"Authorization", "Bearer " + tokens[static_cast<std::size_t>(i)]}});
    });
    lt::test::TestApp open(lt::test::open_gateway());
    lt::test::TestConnection oc(open.port());
    auto no_auth = time_each(n, [&](int) { oc.request("POST", chat, body); });
    MESSAGE("chat without credentials (permit-all) " << median_us(no_auth) << " us; chat with a new JWT (cache miss: RS256 verify) "
            << median_us(jwt_miss) << " us");
    MESSAGE("median round trip, one keep-alive connection: liveness (no auth) " << median_us(base) << " us; chat with JWT (cache hit) "
            << median_us(jwt_hit) << " us; chat with API key, first use (cache miss: bus call + SQLite) " << median_us(key_miss)
            << " us; same keys again (cache hit) " << median_us(key_hit) << " us");
}
