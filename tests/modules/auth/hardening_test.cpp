// Issue 15 in the auth module: signing keys encrypted at rest, the failed-login limiter, bcrypt's own
// bounded pool, user names compared by their canonical form, duplicate JSON members, roles versions.
#include <doctest/doctest.h>

#include <latch>
#include <boost/asio/detached.hpp>
#include <thread>

#include "auth_harness.hpp"
#include "auth_module.hpp"
#include "auth_store.hpp"
#include "key_manager.hpp"
#include "password_pool.hpp"
#include "user_service.hpp"
#include "username.hpp"

using lt::auth::test::Harness;
using lt::auth::test::TempDir;
namespace json = boost::json;

namespace {

const std::string kRegister = "/api/v1/auth/register";
const std::string kLogin = "/api/v1/auth/login";
const std::string kKek = "auth.jwt.key-encryption-key=correct-horse-battery-staple";

std::string reg_body(const std::string& u, const std::string& e, const std::string& p) {
    return json::serialize(json::object{{"username", u}, {"email", e}, {"password", p}});
}

/// `prefix` + n + `suffix` (operator+ on a literal trips g++ 12's -Wrestrict at -O3).
std::string numbered(std::string prefix, int n, std::string_view suffix = {}) {
    prefix += std::to_string(n);
    prefix += suffix;
    return prefix;
}

std::string login_body(const std::string& u, const std::string& p) {
    return json::serialize(json::object{{"username", u}, {"password", p}});
}

/// The stored private_pem of every signing key.
std::vector<std::string> stored_private_keys(lt::ports::SqlDatabase& db) {
    std::vector<std::string> out;
    auto r = db.transact_sync([&](lt::ports::SqlSession& s) -> lt::Result<void> {
        auto rows = lt::auth::AuthStore(s).signing_keys();
        if (!rows) return lt::fail(rows.error());
        for (const auto& row : *rows) out.push_back(row.private_pem);
        return lt::ok();
    });
    REQUIRE(r);
    return out;
}

/// Starts a KeyManager with `kek` on `file` (migrated SQLite); its start result.
lt::Result<void> start_keys(const std::filesystem::path& file, std::string_view kek, lt::FakeClock& clock) {
    lt::BlockingPool pool(1);
    auto db = lt::adapters::SqliteDatabase::open(file, pool);
    REQUIRE(db);
    auto migrated = lt::ports::run_migrations(**db, "auth", lt::ports::embedded_migrations("auth", "sqlite"));
    REQUIRE(migrated);
    lt::auth::KeyManager keys("iss", std::chrono::seconds(60), 2048, kek);
    return keys.load_or_create(**db, clock.now());
}

}  // namespace

TEST_CASE("with a key-encryption key the signing key is stored encrypted, and a wrong or missing key stops the start") {
    TempDir dir;
    const auto file = dir.path() / "auth.db";
    std::string kid, token;
    {
        Harness h({kKek}, file);
        for (const auto& pem : stored_private_keys(h.db())) {
            CHECK(pem.rfind("enc:v1:", 0) == 0);
            CHECK(pem.find("PRIVATE KEY") == std::string::npos);
        }
        auto r = h.call("POST", kRegister, reg_body("kate", "kate@example.com", "pw-secret-1"));
        REQUIRE(r.status == 201);
        token = r.str("token");
    }
    {
        // Same key: the key is read back and still verifies the earlier token.
        Harness h({kKek}, file);
        CHECK(lt::jwt::verify(token, h.published_keys(), h.clock().now()));
    }
    lt::FakeClock clock;
    auto wrong = start_keys(file, "another-passphrase-entirely", clock);
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().message.find("auth.jwt.key-encryption-key") != std::string::npos);
    CHECK(wrong.error().message.find("does not decrypt") != std::string::npos);
    auto missing = start_keys(file, "", clock);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("auth.jwt.key-encryption-key is not set") != std::string::npos);
}

TEST_CASE("plaintext signing keys are encrypted in place when a key-encryption key is configured") {
    TempDir dir;
    const auto file = dir.path() / "auth.db";
    std::string token;
    {
        Harness h({}, file);
        auto stored = stored_private_keys(h.db());
        REQUIRE(stored.size() == 1);
        CHECK(stored[0].find("PRIVATE KEY") != std::string::npos);  // no key configured: plaintext
        auto r = h.call("POST", kRegister, reg_body("lena", "lena@example.com", "pw-secret-1"));
        REQUIRE(r.status == 201);
        token = r.str("token");
    }
    Harness h({kKek}, file);
    auto stored = stored_private_keys(h.db());
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].rfind("enc:v1:", 0) == 0);
    CHECK(lt::jwt::verify(token, h.published_keys(), h.clock().now()));  // the same key, kept
    CHECK(h.call("POST", kLogin, login_body("lena", "pw-secret-1")).status == 200);
}

TEST_CASE("the failed-login limiter answers 429 with Retry-After per account and per IP, and a window later lets in") {
    Harness h({"auth.login.max-failures-per-account=3", "auth.login.max-failures-per-ip=5",
               "auth.login.window-seconds=60"});
    h.register_user("mallory-target", "right-password");
    for (int i = 0; i < 3; ++i) {
        CHECK(h.call("POST", kLogin, login_body("mallory-target", "wrong")).status == 401);
    }
    // The account is locked: even the right password is refused until the window ends.
    auto locked = h.call("POST", kLogin, login_body("mallory-target", "right-password"));
    CHECK(locked.status == 429);
    CHECK(locked.raw.header("Retry-After") == "60");
    REQUIRE(locked.body.is_object());
    const auto& o = locked.body.as_object();
    CHECK(o.at("status") == 429);
    CHECK(o.at("error") == "Too Many Requests");
    CHECK(o.at("path") == json::value(kLogin));
    CHECK(o.contains("timestamp"));
    CHECK(o.at("message") == "too many failed logins: try again later");
    // Another spelling of the same account is the same account.
    CHECK(h.call("POST", kLogin, login_body("MALLORY-TARGET", "wrong")).status == 429);

    // Per IP: 5 failures across accounts from one address, then that address is refused; another is not.
    for (int i = 0; i < 2; ++i) {
        CHECK(h.call("POST", kLogin, login_body(numbered("nobody-", i), "x")).status == 401);
    }
    CHECK(h.call("POST", kLogin, login_body("nobody-9", "x")).status == 429);
    CHECK(h.call("POST", kLogin, login_body("nobody-9", "x"), std::nullopt, {}, "10.9.9.9").status == 401);

    h.clock().advance(std::chrono::seconds(61));
    CHECK(h.call("POST", kLogin, login_body("mallory-target", "right-password")).status == 200);
}

TEST_CASE("a successful login clears the account's failures") {
    Harness h({"auth.login.max-failures-per-account=3"});
    h.register_user("nina", "right-password");
    for (int round = 0; round < 3; ++round) {
        CHECK(h.call("POST", kLogin, login_body("nina", "wrong")).status == 401);
        CHECK(h.call("POST", kLogin, login_body("nina", "wrong")).status == 401);
        CHECK(h.call("POST", kLogin, login_body("nina", "right-password")).status == 200);
    }
}

TEST_CASE("bcrypt runs on its own bounded pool: beyond its queue bound a job is refused at once") {
    Harness h({"auth.password-hash.threads=3", "auth.password-hash.max-queued=7"});
    auto& module = static_cast<lt::auth::AuthModule&>(h.module());
    CHECK(module.password_pool().threads() == 3);
    CHECK(module.password_pool().max_queued() == 7);

    lt::auth::PasswordPool pool(1, 1);
    boost::asio::io_context io;
    std::latch started(1);
    std::latch release(1);
    std::optional<std::optional<int>> first, second;
    boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
        auto op = pool.run([&] {
            started.count_down();
            release.wait();
            return 1;
        });
        first = co_await std::move(op);
    }, boost::asio::detached);
    std::thread runner([&] { io.run(); });
    started.wait();
    CHECK(pool.in_flight() == 1);
    boost::asio::io_context io2;
    boost::asio::co_spawn(io2, [&]() -> boost::asio::awaitable<void> {
        auto op = pool.run([] { return 2; });
        second = co_await std::move(op);
    }, boost::asio::detached);
    io2.run();
    REQUIRE(second.has_value());
    CHECK_FALSE(second->has_value());  // refused at once: the one slot is taken
    release.count_down();
    runner.join();
    REQUIRE(first.has_value());
    CHECK(*first == std::optional<int>(1));
    CHECK(pool.in_flight() == 0);
}

TEST_CASE("user names are unique by their canonical form, and invisible or control characters are refused") {
    Harness h;
    h.register_user("admin");
    const std::vector<std::string> lookalikes = {
        "ADMIN",
        "\xd0\xb0" "dmin",                      // Cyrillic a
        "\xef\xbd\x81\xef\xbd\x84\xef\xbd\x8d\xef\xbd\x89\xef\xbd\x8e",  // fullwidth
        "Admin",
    };
    int i = 0;
    for (const auto& name : lookalikes) {
        CAPTURE(name);
        auto r = h.call("POST", kRegister, reg_body(name, numbered("x", i++, "@example.com"), "pw"));
        CHECK(r.status == 400);
        CHECK(r.message() == "username already exists");
    }
    const std::vector<std::string> invisible = {
        "admin\xe2\x80\x8b",        // U+200B zero width space
        "admin\xc2\xa0",            // U+00A0 no-break space (inside, not trimmed)
        "ad\xc2\xa0min",
        "ad\x01min",                // C0 control
        "ad\xc2\x85min",            // C1 control (NEL)
        "\xe2\x80\xae" "nimda",     // U+202E right-to-left override
        "ad\xef\xbb\xbfmin",        // U+FEFF
        "ad\xe2\x81\xa0min",        // U+2060 word joiner
    };
    for (const auto& name : invisible) {
        CAPTURE(name);
        auto r = h.call("POST", kRegister, reg_body(name, numbered("y", i++, "@example.com"), "pw"));
        CHECK(r.status == 400);
        CHECK(r.message().rfind("username", 0) == 0);
    }
    // Not UTF-8 at all: the JSON parser refuses the body already.
    CHECK(h.call("POST", kRegister, reg_body("bad\xff", "z@example.com", "pw")).status == 400);
    CHECK(lt::auth::username_problem("bad\xff") == std::optional<std::string>("username must be valid UTF-8"));
    // Distinct names stay distinct, accents and all.
    CHECK(h.call("POST", kRegister, reg_body("J\xc3\xb6rg", "jorg@example.com", "pw")).status == 201);
    CHECK(h.call("POST", kRegister, reg_body("administrator", "adm2@example.com", "pw")).status == 201);
    // The canonical form also finds the account at login.
    CHECK(h.call("POST", kLogin, login_body("ADMIN", "pw-secret-1")).status == 200);
    CHECK(lt::auth::username_key("ADMIN") == lt::auth::username_key("admin"));
}

TEST_CASE("a JSON body that repeats a member is refused with 400, never read last-wins") {
    Harness h;
    h.register_user("omar", "right-password");
    auto r = h.call("POST", kLogin, R"({"username":"omar","password":"wrong","password":"right-password"})");
    CHECK(r.status == 400);
    CHECK(r.message() == "duplicate key in JSON object");
    r = h.call("POST", kRegister, R"({"username":"a","username":"b","email":"e@x","password":"p"})");
    CHECK(r.status == 400);
    CHECK(h.call("POST", kLogin, login_body("omar", "right-password")).status == 200);
}

TEST_CASE("a role change bumps the user's roles version, carried by new tokens as the rv claim") {
    Harness h;
    auto [id, token] = h.register_user("pia", "pia-pw");
    const auto admin = lt::auth::test::user("99999999-9999-9999-9999-999999999999", {"ADMIN", "USER"});
    CHECK(h.call("PUT", "/api/v1/auth/users/" + id + "/roles/ADMIN", {}, admin).status == 204);
    auto login = h.call("POST", kLogin, login_body("pia", "pia-pw"));
    REQUIRE(login.status == 200);
    auto claims = lt::jwt::verify(login.str("token"), h.published_keys(), h.clock().now());
    REQUIRE(claims);
    CHECK(claims->rv == 1);
    CHECK(claims->roles == std::vector<std::string>{"ADMIN", "USER"});
    CHECK(h.call("DELETE", "/api/v1/auth/users/" + id + "/roles/ADMIN", {}, admin).status == 204);
    // The verifiers learn the version from the JWKS reply too (a gateway that missed the event).
    auto jwks = h.command(lt::auth::kJwks.name, json::object{});
    REQUIRE(jwks);
    const auto& versions = jwks->as_object().at("rolesVersions").as_array();
    REQUIRE(versions.size() == 1);
    CHECK(versions[0] == json::object{{"userId", id}, {"rolesVersion", 2}});
    auto user = h.command(lt::auth::kGetUser.name, json::object{{"userId", id}});
    REQUIRE(user);
    CHECK(user->as_object().at("rolesVersion") == 2);
}

TEST_CASE("the admin bootstrap never takes over a look-alike account registered before it") {
    Harness h;
    auto [id, token] = h.register_user("Boss", "attacker-password");
    auto r = lt::auth::upsert_user(h.db(), h.clock().now(), "boss", "", "admin-password-1", true);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "username already exists");
    auto login = h.call("POST", kLogin, login_body("Boss", "attacker-password"));
    REQUIRE(login.status == 200);
    CHECK(login.body.at("roles") == json::array{"USER"});
    CHECK(h.call("POST", kLogin, login_body("boss", "admin-password-1")).status == 401);
}
