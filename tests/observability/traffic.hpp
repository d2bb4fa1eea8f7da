#pragma once
/// Traffic that touches every metric family an operator looks at: sign-ups and a failed login, an API
/// key (validated, then a wrong one), quota allocation, admitted and refused consumes, a purchase,
/// analytics queries. Then the scrape text and the metric names it declares.

#include <chrono>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "support/accounts.hpp"
#include "support/test_http.hpp"

namespace lt::test {

inline void observability_traffic(std::uint16_t port) {
    namespace json = boost::json;
    auto u = signup(port, "watcher");
    CHECK(http_call(port, "POST", "/api/v1/auth/login", R"({"username":"watcher","password":"wrong"})").status == 401);
    auto key_res = http_call(port, "POST", "/api/v1/auth/api-keys",
                             json::serialize(json::object{{"userId", u.id}, {"name", "obs"}}), u.auth());
    REQUIRE_MESSAGE(key_res.status == 201, key_res.body);
    const std::string key(json::parse(key_res.body).as_object().at("apiKey").as_string());
    auto root = admin(port);
    allocate(port, root, "userId", u.id, 100);
    auto consume = [&](std::int64_t tokens, const std::string& k) {
        return http_call(port, "POST", "/api/v1/tokens/consume",
                         json::serialize(json::object{
                             {"userId", u.id}, {"provider", "openai"}, {"tokens", tokens}, {"prompt", "hi"}}),
                         {{"X-Api-Key", k}});
    };
    CHECK(consume(40, key).status == 200);
    CHECK(consume(40, key).status == 200);
    CHECK(consume(40, key).status == 402);  // over the quota
    CHECK(consume(1, "leaky_wrong").status == 401);
    CHECK(http_call(port, "GET", "/api/v1/tokens/quota?userId=" + u.id + "&provider=openai", {}, u.auth()).status ==
          200);
    auto headers = u.auth();
    headers["Idempotency-Key"] = "obs-1";
    auto bought = http_call(port, "POST", "/api/v1/tokens/purchase",
                            json::serialize(json::object{{"userId", u.id}, {"provider", "openai"}, {"tokens", 10}}),
                            headers);
    CHECK_MESSAGE(bought.status == 202, bought.body);
    for (const char* path : {"/api/v1/analytics/usage?provider=openai", "/api/v1/analytics/report?provider=openai",
                             "/api/v1/analytics/anomalies?provider=openai"}) {
        CHECK(http_call(port, "GET", path, {}, u.auth()).status == 200);
    }
    CHECK(http_call(port, "GET", "/api/v1/tokens/status").status == 200);
}

/// Names declared by `# TYPE` lines of a scrape (the product's exported families).
inline std::set<std::string> declared_families(const std::string& text) {
    std::set<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# TYPE ", 0) != 0) continue;
        std::istringstream l(line.substr(7));
        std::string name, type;
        l >> name >> type;
        out.insert(name + " " + type);
    }
    return out;
}

}  // namespace lt::test
