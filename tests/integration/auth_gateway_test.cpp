// Identity at the gateway, end to end: JWTs, API keys, public paths, spoofing, revocation, restart.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::http_call;
using lt::test::TestApp;

namespace {
const std::string kChat = "/api/v1/openai/chat";
const std::string kPrompt = R"({"prompt":"hi"})";

struct User {
    std::string id;
    std::string token;
};

User register_user(std::uint16_t port, const std::string& name) {
    auto r = http_call(port, "POST", "/api/v1/auth/register",
                       boost::json::serialize(boost::json::object{
                           {"username", name}, {"email", name + "@example.com"}, {"password", "secret-" + name}}));
    REQUIRE_MESSAGE(r.status == 201, r.body);
    auto o = boost::json::parse(r.body).as_object();
    return {std::string(o.at("userId").as_string()), std::string(o.at("token").as_string())};
}

std::string login(std::uint16_t port, const std::string& name, const std::string& password) {
    auto r = http_call(port, "POST", "/api/v1/auth/login",
                       boost::json::serialize(boost::json::object{{"username", name}, {"password", password}}));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return std::string(boost::json::parse(r.body).as_object().at("token").as_string());
}

std::map<std::string, std::string> bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

std::string create_api_key(std::uint16_t port, const User& u) {
    auto r = http_call(port, "POST", "/api/v1/auth/api-keys",
                       boost::json::serialize(boost::json::object{{"userId", u.id}, {"name", "ci"}}), bearer(u.token));
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return std::string(boost::json::parse(r.body).as_object().at("apiKey").as_string());
}
}  // namespace

TEST_CASE("a protected route without credentials is a 401 JSON error with WWW-Authenticate and security headers") {
    TestApp app;
    auto r = http_call(app.port(), "POST", kChat, kPrompt);
    CHECK(r.status == 401);
    CHECK(r.header("www-authenticate").find("Bearer") == 0);
    CHECK(r.header("x-content-type-options") == "nosniff");
    CHECK(r.header("x-correlation-id").size() == 36);
    auto body = boost::json::parse(r.body).as_object();
    CHECK(body.at("status") == 401);
    CHECK(body.at("error") == "Unauthorized");
    CHECK(body.at("path").as_string() == kChat);
}

TEST_CASE("public paths need no credentials and ignore bad ones") {
    TestApp app;
    CHECK(http_call(app.port(), "GET", "/actuator/health").status == 200);
    CHECK(http_call(app.port(), "GET", "/oauth2/jwks").status == 200);
    auto bad = bearer("not.a.token");
    auto reg = http_call(app.port(), "POST", "/api/v1/auth/register",
                         R"({"username":"pub","email":"pub@example.com","password":"pw-123456"})", bad);
    CHECK(reg.status == 201);
    auto log = http_call(app.port(), "POST", "/api/v1/auth/login", R"({"username":"pub","password":"pw-123456"})",
                         {{"X-Api-Key", "leaky_bogus"}});
    CHECK(log.status == 200);
}

TEST_CASE("an unknown path is 404 with or without credentials") {
    TestApp app;
    CHECK(http_call(app.port(), "GET", "/api/v1/tokens/nothing-here").status == 404);
    CHECK(http_call(app.port(), "GET", "/api/v1/tokens/nothing-here", "", bearer("garbage")).status == 404);
}

TEST_CASE("a registered user's JWT reaches a protected route and a bad token is rejected as invalid_token") {
    TestApp app;
    auto u = register_user(app.port(), "alice");
    CHECK(http_call(app.port(), "POST", kChat, kPrompt, bearer(u.token)).status == 200);
    auto tampered = u.token;
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
    auto r = http_call(app.port(), "POST", kChat, kPrompt, bearer(tampered));
    CHECK(r.status == 401);
    CHECK(r.header("www-authenticate").find("invalid_token") != std::string::npos);
}

TEST_CASE("an API key authenticates and stops working on the first request after its revocation") {
    TestApp app;
    auto u = register_user(app.port(), "bob");
    auto key = create_api_key(app.port(), u);
    CHECK(http_call(app.port(), "POST", kChat, kPrompt, {{"X-Api-Key", key}}).status == 200);
    CHECK(http_call(app.port(), "POST", kChat, kPrompt, {{"X-Api-Key", key}}).status == 200);  // cached
    auto list = http_call(app.port(), "GET", "/api/v1/auth/api-keys?userId=" + u.id, "", {{"X-Api-Key", key}});
    REQUIRE(list.status == 200);
    auto id = std::string(boost::json::parse(list.body).as_array().at(0).as_object().at("id").as_string());
    auto del = http_call(app.port(), "DELETE", "/api/v1/auth/api-keys?userId=" + u.id + "&apiKeyId=" + id, "",
                         bearer(u.token));
    CHECK(del.status == 204);
    auto after = http_call(app.port(), "POST", kChat, kPrompt, {{"X-Api-Key", key}});
    CHECK(after.status == 401);
    CHECK(http_call(app.port(), "POST", kChat, kPrompt, {{"X-Api-Key", "leaky_nope"}}).status == 401);
}

TEST_CASE("client-sent identity headers cannot escalate privileges") {
    TestApp app;
    auto u = register_user(app.port(), "mallory");
    auto victim = register_user(app.port(), "victim");
    std::map<std::string, std::string> spoof{{"X-User-Id", victim.id}, {"X-User-Roles", "ADMIN,USER"}};
    CHECK(http_call(app.port(), "PUT", "/api/v1/auth/users/" + u.id + "/roles/ADMIN", "", spoof).status == 401);
    auto headers = spoof;
    headers["Authorization"] = "Bearer " + u.token;
    CHECK(http_call(app.port(), "PUT", "/api/v1/auth/users/" + u.id + "/roles/ADMIN", "", headers).status == 403);
    CHECK(http_call(app.port(), "GET", "/api/v1/auth/api-keys?userId=" + victim.id, "", headers).status == 403);
}

TEST_CASE("a bootstrapped admin grants roles, and an API key carries its owner's current roles") {
    TestApp app({"auth.bootstrap-admin.username=root", "auth.bootstrap-admin.password=root-password-1"});
    auto admin = login(app.port(), "root", "root-password-1");
    auto u = register_user(app.port(), "carol");
    auto key = create_api_key(app.port(), u);
    auto other = register_user(app.port(), "dave");
    // As a USER, carol's key may not read dave's keys...
    CHECK(http_call(app.port(), "GET", "/api/v1/auth/api-keys?userId=" + other.id, "", {{"X-Api-Key", key}}).status ==
          403);
    CHECK(http_call(app.port(), "PUT", "/api/v1/auth/users/" + u.id + "/roles/ADMIN", "", bearer(admin)).status == 204);
    // ...once ADMIN, the same key may (the role change evicted the cached principal).
    CHECK(http_call(app.port(), "GET", "/api/v1/auth/api-keys?userId=" + other.id, "", {{"X-Api-Key", key}}).status ==
          200);
}

TEST_CASE("a revoked JWT is refused until it expires") {
    TestApp app;
    auto u = register_user(app.port(), "erin");
    CHECK(http_call(app.port(), "POST", kChat, kPrompt, bearer(u.token)).status == 200);
    auto rv = http_call(app.port(), "POST", "/oauth2/revoke", "token=" + u.token,
                        {{"Authorization", "Bearer " + u.token}, {"Content-Type", "application/x-www-form-urlencoded"}});
    CHECK(rv.status == 200);
    CHECK(http_call(app.port(), "POST", kChat, kPrompt, bearer(u.token)).status == 401);
    auto fresh = login(app.port(), "erin", "secret-erin");
    CHECK(http_call(app.port(), "POST", kChat, kPrompt, bearer(fresh)).status == 200);
}

TEST_CASE("after a key rotation old and new tokens both verify at the gateway") {
    TestApp app({"auth.bootstrap-admin.username=root", "auth.bootstrap-admin.password=root-password-1"});
    auto admin = login(app.port(), "root", "root-password-1");
    auto u = register_user(app.port(), "frank");
    auto rot = http_call(app.port(), "POST", "/api/v1/auth/keys/rotate", "", bearer(admin));
    REQUIRE_MESSAGE(rot.status == 200, rot.body);
    auto fresh = login(app.port(), "frank", "secret-frank");
    CHECK(http_call(app.port(), "POST", kChat, kPrompt, bearer(u.token)).status == 200);
    CHECK(http_call(app.port(), "POST", kChat, kPrompt, bearer(fresh)).status == 200);
    auto jwks = boost::json::parse(http_call(app.port(), "GET", "/oauth2/jwks").body).as_object();
    CHECK(jwks.at("keys").as_array().size() == 2);
}

TEST_CASE("a restart keeps users, API keys and the signing key") {
    lt::test::TempDir dir;
    User u;
    std::string key;
    {
        TestApp app({}, {}, dir.path());
        u = register_user(app.port(), "grace");
        key = create_api_key(app.port(), u);
    }
    TestApp again({}, {}, dir.path());
    CHECK(http_call(again.port(), "POST", kChat, kPrompt, bearer(u.token)).status == 200);
    CHECK(http_call(again.port(), "POST", kChat, kPrompt, {{"X-Api-Key", key}}).status == 200);
    CHECK(!login(again.port(), "grace", "secret-grace").empty());
}

TEST_CASE("20 concurrent logins do not push health-check p99 above 50 ms") {
    TestApp app;
    register_user(app.port(), "henry");
    std::atomic<bool> done{false};
    std::vector<std::thread> logins;
    std::atomic<int> ok{0};
    for (int i = 0; i < 20; ++i) {
        logins.emplace_back([&] {
            auto r = http_call(app.port(), "POST", "/api/v1/auth/login", R"({"username":"henry","password":"secret-henry"})");
            ok += r.status == 200 ? 1 : 0;
        });
    }
    std::vector<double> ms;
    lt::test::TestConnection c(app.port());
    while (ok.load() < 20 && ms.size() < 5000) {
        auto t0 = std::chrono::steady_clock::now();
        CHECK(c.request("GET", "/actuator/health").status == 200);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    for (auto& t : logins) t.join();
    done = true;
    CHECK(ok == 20);
    REQUIRE(ms.size() >= 20);
    std::sort(ms.begin(), ms.end());
    double p99 = ms[static_cast<std::size_t>(static_cast<double>(ms.size() - 1) * 0.99)];
    MESSAGE("health p99 during logins: " << p99 << " ms over " << ms.size() << " requests");
    CHECK(p99 < 50.0);
}
