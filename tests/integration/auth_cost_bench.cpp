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

}  // namespace

TEST_CASE("gateway authentication cost per request, cache hit and miss" * doctest::skip()) {
    // permit-all: the same route can be called without credentials, and credentials that are sent
    // are still verified, so the three kinds of request differ only by the authentication work.
    lt::test::TestApp app(lt::test::open_gateway({"auth.api-key.max-per-user=1000"}));
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
    std::vector<std::string> tokens;
    for (int i = 0; i < 40; ++i) {
        auto r = lt::test::http_call(port, "POST", "/api/v1/auth/login", R"({"username":"cost","password":"cost-password-1"})");
        tokens.emplace_back(boost::json::parse(r.body).as_object().at("token").as_string());
    }
    lt::test::TestConnection c(port);
    const std::string chat = "/api/v1/openai/chat";
    const std::string body = R"({"prompt":"x"})";
    for (int i = 0; i < 2000; ++i) c.request("POST", chat, body, bearer);  // warm up (and cache the JWT)
    std::vector<double> none, jwt_hit, key_miss, key_hit, jwt_miss;
    auto timed = [&](std::vector<double>& into, const std::map<std::string, std::string>& headers) {
        auto t0 = std::chrono::steady_clock::now();
        c.request("POST", chat, body, headers);
        into.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    };
    // Interleaved so that drift (CPU frequency, other load) affects every kind alike.
    for (int i = 0; i < n; ++i) {
        timed(none, {});
        timed(jwt_hit, bearer);
        timed(key_miss, {{"X-Api-Key", keys[static_cast<std::size_t>(i)]}});
        timed(key_hit, {{"X-Api-Key", keys[static_cast<std::size_t>(i)]}});
        if (i < 40) timed(jwt_miss, {{"Authorization", "Bearer " + tokens[static_cast<std::size_t>(i)]}});
    }
    MESSAGE("median round trip of POST " << chat << " on one keep-alive connection: no credentials " << median_us(none)
            << " us; JWT cache hit " << median_us(jwt_hit) << " us; JWT cache miss (RS256 verify) " << median_us(jwt_miss)
            << " us; API key cache hit " << median_us(key_hit) << " us; API key cache miss (bus call + SQLite lookup) "
            << median_us(key_miss) << " us");
}
