// Service-level tests of the auth module: bcrypt, configuration, the signing keys, the admin
// bootstrap helpers — built from ports and a clock, without HTTP or the bus.
#include <doctest/doctest.h>

#include "auth_config.hpp"
#include "auth_harness.hpp"
#include "auth_store.hpp"
#include "key_manager.hpp"
#include "lt/core/time.hpp"
#include "password.hpp"
#include "user_service.hpp"

using lt::auth::test::load_config;
using lt::auth::test::TempDir;

namespace {
std::unique_ptr<lt::adapters::SqliteDatabase> open_db(const std::filesystem::path& file, lt::BlockingPool& pool) {
    auto db = lt::adapters::SqliteDatabase::open(file, pool);
    REQUIRE(db);
    auto migrated = lt::ports::run_migrations(**db, "auth", lt::ports::embedded_migrations("auth", "sqlite"));
    REQUIRE_MESSAGE(migrated, (migrated ? "" : migrated.error().message));
    return std::move(*db);
}
}  // namespace

TEST_CASE("passwords are bcrypt hashes of cost 10 and verify only with the right password") {
    auto hash = lt::auth::hash_password("correct horse");
    REQUIRE(hash);
    CHECK(hash->rfind("$2b$10$", 0) == 0);
    CHECK(hash->size() == 60);
    CHECK(lt::auth::looks_like_bcrypt(*hash));
    CHECK(lt::auth::verify_password("correct horse", *hash));
    CHECK_FALSE(lt::auth::verify_password("correct horsf", *hash));
    CHECK_FALSE(lt::auth::verify_password("correct horse", "not-a-hash"));
    CHECK_FALSE(lt::auth::verify_dummy("correct horse"));
    auto other = lt::auth::hash_password("correct horse");
    REQUIRE(other);
    CHECK(*other != *hash);  // random salt

    auto too_long = lt::auth::hash_password(std::string(73, 'x'));
    REQUIRE_FALSE(too_long);
    CHECK(too_long.error().message == "password too long");
    CHECK_FALSE(lt::auth::hash_password(std::string("a\0b", 3)));
}

TEST_CASE("the auth configuration has the original defaults and names every bad key") {
    auto cfg = lt::auth::parse_config(load_config({}));
    REQUIRE(cfg);
    CHECK(cfg->issuer == "leaky-tokens-auth");
    CHECK(cfg->expiry_seconds == 3600);
    CHECK(cfg->key_bits == 2048);
    CHECK_FALSE(cfg->bootstrap_admin);
    CHECK(cfg->clients.empty());

    auto admin = lt::auth::parse_config(load_config({"auth.bootstrap-admin.username=root",
                                                     "auth.bootstrap-admin.password=pw"}));
    REQUIRE(admin);
    REQUIRE(admin->bootstrap_admin);
    CHECK(admin->bootstrap_admin->email == "root@localhost");

    auto bad = lt::auth::parse_config(load_config({"auth.bootstrap-admin.username=root",
                                                   "auth.oauth2.clients.c1.secret-hash=plain-text",
                                                   "auth.oauth2.clients.c1.scopes=a,b"}));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("auth.bootstrap-admin.password") != std::string::npos);
    CHECK(bad.error().message.find("auth.oauth2.clients.c1.secret-hash") != std::string::npos);
}

TEST_CASE("the signing key is created once and reloaded from the database after a restart") {
    TempDir dir;
    lt::BlockingPool pool(1);
    lt::FakeClock clock;
    std::string kid, token;
    {
        auto db = open_db(dir.path() / "keys.db", pool);
        lt::auth::KeyManager keys("issuer-x", std::chrono::seconds(60), 2048);
        REQUIRE(keys.load_or_create(*db, clock.now()));
        kid = keys.current_kid();
        CHECK(lt::is_uuid(kid));
        auto t = keys.issue("subject-1", {"USER", "ADMIN"}, "", clock.now());
        REQUIRE(t);
        token = *t;
    }
    auto db = open_db(dir.path() / "keys.db", pool);
    lt::auth::KeyManager keys("issuer-x", std::chrono::seconds(60), 2048);
    REQUIRE(keys.load_or_create(*db, clock.now()));
    CHECK(keys.current_kid() == kid);
    auto claims = lt::jwt::verify(token, keys.verification_keys(clock.now()), clock.now());
    REQUIRE(claims);
    CHECK(claims->iss == "issuer-x");
    CHECK(claims->roles == std::vector<std::string>{"ADMIN", "USER"});
    CHECK(claims->exp == claims->iat + 60);
}

TEST_CASE("a rotated-out key stays verifiable for one token lifetime plus skew, and is then deleted") {
    lt::BlockingPool pool(1);
    lt::FakeClock clock;
    auto db = open_db(":memory:", pool);
    lt::auth::KeyManager keys("iss", std::chrono::seconds(300), 2048);
    REQUIRE(keys.load_or_create(*db, clock.now()));
    const auto first = keys.current_kid();
    auto old_token = keys.issue("u", {}, "", clock.now());
    REQUIRE(old_token);
    clock.advance(std::chrono::seconds(100));
    auto second = keys.rotate(*db, clock.now());
    REQUIRE(second);
    CHECK(*second != first);
    CHECK(keys.current_kid() == *second);
    CHECK(lt::jwt::verify(*old_token, keys.verification_keys(clock.now()), clock.now()));
    CHECK(keys.verification_keys(clock.now() + std::chrono::seconds(360)).find(first) != nullptr);
    CHECK(keys.verification_keys(clock.now() + std::chrono::seconds(361)).find(first) == nullptr);

    // A reload after the window forgets the old key for good.
    clock.advance(std::chrono::seconds(400));
    lt::auth::KeyManager reloaded("iss", std::chrono::seconds(300), 2048);
    REQUIRE(reloaded.load_or_create(*db, clock.now()));
    CHECK(reloaded.current_kid() == *second);
    CHECK(reloaded.verification_keys(clock.now()).keys().size() == 1);
}

TEST_CASE("upsert_user creates a user, then updates its password and adds ADMIN") {
    lt::BlockingPool pool(1);
    lt::FakeClock clock;
    auto db = open_db(":memory:", pool);
    auto id = lt::auth::upsert_user(*db, clock.now(), "ops", "", "first-password", false);
    REQUIRE(id);
    auto again = lt::auth::upsert_user(*db, clock.now(), "ops", "", "second-password", true);
    REQUIRE(again);
    CHECK(*again == *id);
    std::optional<std::string> hash;
    std::vector<std::string> roles;
    std::string email;
    REQUIRE(db->transact_sync([&](lt::ports::SqlSession& s) -> lt::Result<void> {
        lt::auth::AuthStore store(s);
        auto u = store.find_user_by_username("ops");
        REQUIRE(u);
        REQUIRE(*u);
        hash = (*u)->password_hash;
        email = (*u)->email;
        roles = *store.roles_of(*id);
        return lt::ok();
    }));
    CHECK(email == "ops@localhost");
    CHECK(roles == std::vector<std::string>{"ADMIN", "USER"});
    REQUIRE(hash);
    CHECK(lt::auth::verify_password("second-password", *hash));

    auto bad = lt::auth::upsert_user(*db, clock.now(), "x", "x@y", std::string(80, 'p'), false);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "password too long");
}

TEST_CASE("create_user_offline migrates a fresh database and creates an admin") {
    TempDir dir;
    lt::BlockingPool pool(1);
    auto db = lt::adapters::SqliteDatabase::open(dir.path() / "cli.db", pool);
    REQUIRE(db);
    lt::ModuleContext ctx;
    ctx.sql = db->get();
    auto id = lt::auth::create_user_offline(ctx, "cli-admin", "cli@example.com", "cli-password", true);
    REQUIRE_MESSAGE(id, (id ? "" : id.error().message));
    CHECK(lt::is_uuid(*id));
}
