// Issue 15 items 4-7 replayed against a running server, each followed by a normal request: stale roles
// in a JWT, failed-login floods, duplicate JSON members, confusable and invisible user names, error
// bodies for paths that are not UTF-8, purchases for unknown users, and secrets at rest (file modes,
// encrypted signing keys, a wrong key-encryption key refusing the start).
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "lt/core/json.hpp"
#include "support/accounts.hpp"
#include "support/server_process.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::Account;
using lt::test::http_call;
using lt::test::signup;
using lt::test::TestApp;
using lt::test::with_admin;

namespace {

const std::string kLogin = "/api/v1/auth/login";
const std::string kRegister = "/api/v1/auth/register";

void expect_still_serving(std::uint16_t port) {
    auto r = http_call(port, "GET", "/actuator/health");
    CHECK(r.status == 200);
}

std::string roles_path(const std::string& user, const std::string& role) {
    std::string p = "/api/v1/auth/users/";
    p += user;
    p += "/roles/";
    p += role;
    return p;
}

std::string register_body(const std::string& name, int n) {
    std::string email = "u";
    email += std::to_string(n);
    email += "@example.com";
    return boost::json::serialize(boost::json::object{{"username", name}, {"email", email}, {"password", "pw-123456"}});
}

/// Starts the application on `dir` with `last` applied after every other override; the start result.
lt::Result<void> try_start(const std::filesystem::path& dir, std::vector<std::string> last) {
    lt::config::LoadOptions load;
    load.read_env = false;
    load.overrides = {"server.port=0", "server.address=127.0.0.1", "storage.data-dir=" + dir.string(),
                      "log.level=off", "log.access=false", "server.threads=1"};
    for (auto& o : lt::test::env_extra_overrides()) load.overrides.push_back(std::move(o));
    lt::test::isolate_postgres(load.overrides, dir);
    lt::test::isolate_network_stores(load.overrides, dir);
    for (auto& o : last) load.overrides.push_back(std::move(o));
    auto cfg = lt::config::load(lt::app::full_schema(), load);
    if (!cfg) return lt::fail(cfg.error());
    lt::app::AppOptions options;
    options.handle_signals = false;
    auto a = lt::app::App::create(std::move(*cfg), options);
    if (!a) return lt::fail(a.error());
    auto started = (*a)->start();
    (*a)->shutdown();
    (*a)->wait();
    return started;
}

unsigned mode_of(const std::filesystem::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("A JWT issued with ADMIN loses ADMIN at once when the role is revoked (403), and keeps USER") {
    TestApp app(with_admin());
    auto root = lt::test::admin(app.port());
    auto u = signup(app.port(), "stale-roles-user");
    REQUIRE(http_call(app.port(), "PUT", roles_path(u.id, "ADMIN"), "", root.auth()).status == 204);
    auto login = http_call(app.port(), "POST", kLogin,
                           R"({"username":"stale-roles-user","password":"pw-stale-roles-user-123"})");
    REQUIRE(login.status == 200);
    Account elevated{u.id, std::string(boost::json::parse(login.body).as_object().at("token").as_string())};
    // ADMIN works (twice: the second use comes from the gateway's verified-token cache).
    CHECK(http_call(app.port(), "PUT", roles_path(u.id, "USER"), "", elevated.auth()).status == 204);
    CHECK(http_call(app.port(), "PUT", roles_path(u.id, "USER"), "", elevated.auth()).status == 204);

    REQUIRE(http_call(app.port(), "DELETE", roles_path(u.id, "ADMIN"), "", root.auth()).status == 204);
    auto denied = http_call(app.port(), "PUT", roles_path(u.id, "ADMIN"), "", elevated.auth());
    CHECK(denied.status == 403);
    // Still a valid USER token: its own API keys are listed.
    CHECK(http_call(app.port(), "GET", "/api/v1/auth/api-keys?userId=" + u.id, "", elevated.auth()).status == 200);
    // Granting ADMIN again does not make the old token ADMIN (a new login does).
    REQUIRE(http_call(app.port(), "PUT", roles_path(u.id, "ADMIN"), "", root.auth()).status == 204);
    CHECK(http_call(app.port(), "PUT", roles_path(u.id, "USER"), "", elevated.auth()).status == 403);
    expect_still_serving(app.port());
}

TEST_CASE("Repeated wrong passwords get 429 with Retry-After and a CONTRACT 1 body, and concurrent guesses do not stop service") {
    TestApp app({"auth.login.max-failures-per-account=5", "auth.login.window-seconds=120"});
    signup(app.port(), "victim");
    for (int i = 0; i < 5; ++i) {
        CHECK(http_call(app.port(), "POST", kLogin, R"({"username":"victim","password":"guess"})").status == 401);
    }
    auto r = http_call(app.port(), "POST", kLogin, R"({"username":"victim","password":"pw-victim-123"})");
    CHECK(r.status == 429);
    CHECK(std::stoi(r.header("retry-after")) >= 1);
    CHECK(std::stoi(r.header("retry-after")) <= 120);
    auto body = boost::json::parse(r.body).as_object();
    CHECK(body.at("status") == 429);
    CHECK(body.at("error") == "Too Many Requests");
    CHECK(body.at("path") == "/api/v1/auth/login");
    CHECK(body.contains("timestamp"));
    CHECK(body.contains("message"));

    // 32 concurrent wrong logins (other accounts): every answer is an orderly 401/429/503.
    signup(app.port(), "bystander");
    std::atomic<int> odd{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 32; ++t) {
        threads.emplace_back([&, t] {
            std::string body = R"({"username":"guess-)";
            body += std::to_string(t % 4);
            body += R"(","password":"wrong"})";
            auto a = http_call(app.port(), "POST", kLogin, body);
            if (a.status != 401 && a.status != 429 && a.status != 503) ++odd;
        });
    }
    for (auto& th : threads) th.join();
    CHECK(odd.load() == 0);
    CHECK(http_call(app.port(), "POST", kLogin, R"({"username":"bystander","password":"pw-bystander-123"})").status ==
          200);
    expect_still_serving(app.port());
}

TEST_CASE("Duplicate JSON members are refused with 400: a purchase cannot credit the last of two amounts") {
    TestApp app(with_admin());
    auto root = lt::test::admin(app.port());
    auto u = signup(app.port(), "dup-keys");
    std::string purchase = R"({"userId":")";
    purchase += u.id;
    purchase += R"(","provider":"openai","tokens":1,"tokens":2000000000})";
    auto r = http_call(app.port(), "POST", "/api/v1/tokens/purchase", purchase, u.auth());
    CHECK(r.status == 400);
    CHECK(lt::test::message_of(r) == "duplicate key in JSON object");
    auto login = http_call(app.port(), "POST", kLogin,
                           R"({"username":"dup-keys","password":"wrong","password":"pw-dup-keys-123"})");
    CHECK(login.status == 400);
    // Nested objects too.
    CHECK(http_call(app.port(), "POST", kRegister, R"({"username":"x","email":"x@y","password":"p","o":{"a":1,"a":2}})")
              .status == 400);
    expect_still_serving(app.port());
}

TEST_CASE("User names confusable with an existing one, or holding invisible or control characters, are refused") {
    TestApp app(with_admin());
    const std::vector<std::string> names = {
        "ROOT",
        "r\xd0\xbe\xd0\xbet",                                   // Cyrillic o o
        "root\xe2\x80\x8b",                                     // + U+200B
        "ro\xc2\xa0ot",                                         // U+00A0 inside
        "\xef\xbd\x92\xef\xbd\x8f\xef\xbd\x8f\xef\xbd\x94",     // fullwidth
        "ro\x07ot",                                             // C0 control
        "ro\xc2\x9bot",                                         // C1 control
        "\xe2\x80\xae" "toor",                                  // U+202E
    };
    int n = 0;
    for (const auto& name : names) {
        CAPTURE(name);
        auto r = http_call(app.port(), "POST", kRegister, register_body(name, n++));
        CHECK(r.status == 400);
    }
    CHECK(http_call(app.port(), "POST", kRegister, register_body("r\xc3\xb6\xc3\xb6t", n++)).status == 201);
    expect_still_serving(app.port());
}

TEST_CASE("An error body for a path that is not UTF-8 (/x%ff) is valid UTF-8 JSON") {
    TestApp app(lt::test::open_gateway());
    for (const std::string path : {"/x%ff", "/api/v1/tokens/%c0%af", "/%ed%a0%80", "/a%e2%82"}) {
        CAPTURE(path);
        auto r = http_call(app.port(), "GET", path);
        CHECK(r.status >= 400);
        CHECK(lt::valid_utf8(r.body) == r.body);
        boost::system::error_code ec;
        auto v = boost::json::parse(r.body, ec);  // Boost.JSON refuses invalid UTF-8
        CHECK_FALSE(ec);
    }
    expect_still_serving(app.port());
}

TEST_CASE("A purchase for a user that does not exist is refused") {
    TestApp app(with_admin());
    auto root = lt::test::admin(app.port());
    std::string body = R"({"userId":"00000000-0000-4000-8000-000000000001","provider":"openai","tokens":5})";
    auto r = http_call(app.port(), "POST", "/api/v1/tokens/purchase", body, root.auth());
    CHECK(r.status == 404);
    CHECK(lt::test::message_of(r) == "user not found");
    expect_still_serving(app.port());
}

TEST_CASE("The data directory is 0700 and the database files 0600, also when they existed with looser modes") {
    lt::test::TempDir dir;
    const auto data = dir.path() / "data";
    std::filesystem::create_directories(data);
    std::filesystem::permissions(data, std::filesystem::perms(0755));
    {
        lt::test::ServerProcess server(data, {});
        expect_still_serving(server.port());
        server.stop();
    }
    CHECK(mode_of(data) == 0700);
    if (!std::filesystem::exists(data / "leaky-tokens.db")) {
        MESSAGE("no SQLite files (the run uses PostgreSQL): only the directory is checked");
        return;
    }
    for (const auto& entry : std::filesystem::directory_iterator(data)) {
        const auto name = entry.path().filename().string();
        if (name.find(".db") == std::string::npos) continue;
        CAPTURE(name);
        CHECK(mode_of(entry.path()) == 0600);
    }
}

TEST_CASE("Signing keys are encrypted at rest, and a wrong or missing key-encryption key refuses the start, naming the key") {
    lt::test::TempDir dir;
    const std::string right = "auth.jwt.key-encryption-key=first-passphrase-for-tests";
    REQUIRE(try_start(dir.path(), {right}).has_value());
    auto wrong = try_start(dir.path(), {"auth.jwt.key-encryption-key=another-passphrase-entirely"});
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error().message.find("auth.jwt.key-encryption-key") != std::string::npos);
    auto none = try_start(dir.path(), {"auth.jwt.key-encryption-key=~"});
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().message.find("auth.jwt.key-encryption-key") != std::string::npos);
    TestApp again({right}, {}, dir.path());
    expect_still_serving(again.port());
    if (std::filesystem::exists(dir.path() / "leaky-tokens.db")) {
        // No PEM private key anywhere in the database files.
        for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
            std::ifstream in(entry.path(), std::ios::binary);
            std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            CAPTURE(entry.path().string());
            CHECK(bytes.find("BEGIN PRIVATE KEY") == std::string::npos);
        }
    }
}
