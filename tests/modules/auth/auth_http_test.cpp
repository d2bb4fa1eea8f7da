// HTTP-handler tests of the auth module: A1-A7 with the contract messages, role management, key
// rotation, persistence across restarts. Routes are called directly with the principal the gateway
// would set.
#include <doctest/doctest.h>

#include <cctype>

#include "auth_harness.hpp"
#include "lt/core/crypto.hpp"
#include "lt/core/time.hpp"

using lt::auth::test::Harness;
using lt::auth::test::TempDir;
using lt::auth::test::user;
namespace json = boost::json;

namespace {
const std::string kRegister = "/api/v1/auth/register";
const std::string kLogin = "/api/v1/auth/login";
const std::string kKeys = "/api/v1/auth/api-keys";
const std::string kValidate = "/api/v1/auth/api-keys/validate";

json::object reg(std::string u, std::string e, std::string p) {
    return json::object{{"username", std::move(u)}, {"email", std::move(e)}, {"password", std::move(p)}};
}

lt::bus::Principal admin() { return user("99999999-9999-9999-9999-999999999999", {"ADMIN", "USER"}); }

void check_error_shape(const lt::auth::test::Reply& r, const std::string& path) {
    REQUIRE(r.body.is_object());
    const auto& o = r.body.as_object();
    CHECK(o.at("status") == r.status);
    CHECK(o.at("path") == json::value(path));
    CHECK(o.contains("timestamp"));
    CHECK(o.contains("error"));
}
}  // namespace

TEST_CASE("register answers 201 with userId, username, a verifiable token and roles [USER]") {
    Harness h;
    auto r = h.post(kRegister, reg("  alice  ", " alice@example.com ", "pw-secret-1"));
    REQUIRE(r.status == 201);
    CHECK(r.str("username") == "alice");
    CHECK(lt::is_uuid(r.str("userId")));
    CHECK(r.body.at("roles") == json::array{"USER"});
    auto claims = lt::jwt::verify(r.str("token"), h.published_keys(), h.clock().now());
    REQUIRE(claims);
    CHECK(claims->sub == r.str("userId"));
    CHECK(claims->iss == "leaky-tokens-auth");
    CHECK(claims->roles == std::vector<std::string>{"USER"});
    CHECK(claims->exp - claims->iat == 3600);
    CHECK(lt::is_uuid(claims->jti));
    // The username was stored trimmed: login with the trimmed name works.
    CHECK(h.post(kLogin, json::object{{"username", "alice"}, {"password", "pw-secret-1"}}).status == 200);
}

TEST_CASE("register rejects missing, blank, non-string and malformed input with 400") {
    Harness h;
    const std::string required = "username, email, and password are required";
    for (const auto& body : {json::object{{"email", "a@x"}, {"password", "p"}}, reg("   ", "a@x", "p"),
                             reg("a", "  ", "p"), reg("a", "a@x", "   "),
                             json::object{{"username", 5}, {"email", "a@x"}, {"password", "p"}}}) {
        auto r = h.post(kRegister, body);
        CHECK(r.status == 400);
        CHECK(r.message() == required);
        check_error_shape(r, kRegister);
    }
    CHECK(h.call("POST", kRegister, "{not json").status == 400);
    CHECK(h.call("POST", kRegister, "[1,2]").status == 400);
    CHECK(h.call("POST", kRegister, "").status == 400);
}

TEST_CASE("register bounds its inputs: username 50, email 100 characters, password 72 bytes") {
    Harness h;
    auto r = h.post(kRegister, reg(std::string(51, 'u'), "a@x", "p"));
    CHECK(r.status == 400);
    CHECK(r.message() == "username too long");
    r = h.post(kRegister, reg("u", std::string(101, 'e'), "p"));
    CHECK(r.status == 400);
    CHECK(r.message() == "email too long");
    r = h.post(kRegister, reg("u", "a@x", std::string(73, 'p')));
    CHECK(r.status == 400);
    CHECK(r.message() == "password too long");
    // 50 two-byte characters are 50 characters.
    std::string umlauts;
    for (int i = 0; i < 50; ++i) umlauts += "\xc3\xa4";
    CHECK(h.post(kRegister, reg(umlauts, "b@x", std::string(72, 'p'))).status == 201);
}

TEST_CASE("register refuses duplicate usernames and emails with the original messages") {
    Harness h;
    h.register_user("bob");
    auto r = h.post(kRegister, reg("bob", "other@example.com", "pw"));
    CHECK(r.status == 400);
    CHECK(r.message() == "username already exists");
    r = h.post(kRegister, reg("bobby", "bob@example.com", "pw"));
    CHECK(r.status == 400);
    CHECK(r.message() == "email already exists");
    // Uniqueness is by the canonical name (issue 15: NFKC + case folding + confusable skeleton).
    r = h.post(kRegister, reg("BOB", "BOB@example.com", "pw"));
    CHECK(r.status == 400);
    CHECK(r.message() == "username already exists");
    CHECK(h.post(kRegister, reg("bobby", "bobby@example.com", "pw")).status == 201);
    auto text = h.metrics().render();
    CHECK(text.find("auth_register_total{outcome=\"success\",reason=\"\"} 2") != std::string::npos);
    CHECK(text.find("auth_register_total{outcome=\"failure\",reason=\"invalid\"} 3") != std::string::npos);
}

TEST_CASE("login answers 200 with a fresh token, 401 with the original messages otherwise") {
    Harness h;
    auto [id, token] = h.register_user("carol", "right-pw");
    auto ok = h.post(kLogin, json::object{{"username", " carol "}, {"password", "right-pw"}});
    REQUIRE(ok.status == 200);
    CHECK(ok.str("userId") == id);
    CHECK(ok.str("username") == "carol");
    CHECK(ok.body.at("roles") == json::array{"USER"});
    CHECK(ok.str("token") != token);
    auto wrong = h.post(kLogin, json::object{{"username", "carol"}, {"password", "wrong-pw"}});
    CHECK(wrong.status == 401);
    CHECK(wrong.message() == "invalid credentials");
    check_error_shape(wrong, kLogin);
    auto unknown = h.post(kLogin, json::object{{"username", "nobody"}, {"password", "right-pw"}});
    CHECK(unknown.status == 401);
    CHECK(unknown.message() == "invalid credentials");
    for (const auto& body : {json::object{{"username", "carol"}}, json::object{{"password", "x"}},
                             json::object{{"username", "carol"}, {"password", "  "}}}) {
        auto r = h.post(kLogin, body);
        CHECK(r.status == 401);
        CHECK(r.message() == "username and password are required");
    }
    CHECK(h.call("POST", kLogin, "nope").status == 400);
    auto text = h.metrics().render();
    CHECK(text.find("auth_login_total{outcome=\"success\",reason=\"\"} 1") != std::string::npos);
    CHECK(text.find("auth_login_total{outcome=\"failure\",reason=\"invalid\"} 6") != std::string::npos);
}

TEST_CASE("creating an API key needs a principal that owns the userId or is ADMIN") {
    Harness h;
    auto [id, token] = h.register_user("dave");
    auto [other, other_token] = h.register_user("erin");
    json::object body{{"userId", id}, {"name", "ci"}};
    CHECK(h.post(kKeys, body).status == 401);
    CHECK(h.post(kKeys, body, user(other)).status == 403);
    // CONTRACT.md item 2: malformed input is 400 before the ownership check (403), and ownership
    // compares canonical ids, so the caller's own id in upper case is still theirs.
    CHECK(h.post(kKeys, json::object{{"name", "x"}}, user(id)).status == 400);
    CHECK(h.post(kKeys, json::object{{"userId", "not-a-uuid"}}, user(id)).status == 400);
    std::string upper = id;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(h.post(kKeys, json::object{{"userId", upper}}, user(id)).status == 201);
    CHECK(h.post(kKeys, json::object{{"userId", id}}, user(id)).status == 201);
    CHECK(h.call("POST", kKeys, "{bad", user(id)).status == 400);
    // ADMIN reaches the validation.
    auto missing = h.post(kKeys, json::object{{"name", "x"}}, admin());
    CHECK(missing.status == 400);
    CHECK(missing.message() == "userId is required");
    auto blank = h.post(kKeys, json::object{{"userId", "  "}}, admin());
    CHECK(blank.message() == "userId is required");
    auto invalid = h.post(kKeys, json::object{{"userId", "nope"}}, admin());
    CHECK(invalid.status == 400);
    CHECK(invalid.message() == "invalid userId");
    auto unknown = h.post(kKeys, json::object{{"userId", lt::new_uuid()}}, admin());
    CHECK(unknown.status == 400);
    CHECK(unknown.message() == "user not found");
    auto long_name = h.post(kKeys, json::object{{"userId", id}, {"name", std::string(101, 'n')}}, admin());
    CHECK(long_name.status == 400);
    CHECK(long_name.message() == "name too long");
    auto bad_exp = h.post(kKeys, json::object{{"userId", id}, {"expiresAt", "tomorrow"}}, admin());
    CHECK(bad_exp.status == 400);
    // Malformed fields are a 400 before ownership is checked (CONTRACT 2), also for another user's id.
    auto foreign_long = h.post(kKeys, json::object{{"userId", id}, {"name", std::string(101, 'n')}}, user(other));
    CHECK(foreign_long.status == 400);
    CHECK(foreign_long.message() == "name too long");
    auto foreign_exp = h.post(kKeys, json::object{{"userId", id}, {"expiresAt", "tomorrow"}}, user(other));
    CHECK(foreign_exp.status == 400);
    CHECK(foreign_exp.message() == "invalid expiresAt");
    CHECK(h.post(kKeys, json::object{{"userId", other}}, admin()).status == 201);
}

TEST_CASE("a created API key has the original format and shape and validates to its owner") {
    Harness h;
    auto [id, token] = h.register_user("frank");
    auto r = h.post(kKeys, json::object{{"userId", id}, {"name", "  laptop  "}, {"expiresAt", "2030-01-01T00:00:00Z"}},
                    user(id));
    REQUIRE(r.status == 201);
    const auto key = r.str("apiKey");
    CHECK(key.rfind("leaky_" + id + "_", 0) == 0);
    CHECK(key.size() == 6 + 36 + 1 + 48);
    CHECK(r.str("userId") == id);
    CHECK(r.str("name") == "laptop");
    CHECK(r.str("expiresAt") == "2030-01-01T00:00:00.000Z");
    CHECK(lt::parse_rfc3339(r.str("createdAt")).has_value());
    CHECK(lt::is_uuid(r.str("id")));

    auto v = h.call("GET", kValidate, {}, std::nullopt, {{"X-Api-Key", "  " + key + " "}});
    REQUIRE(v.status == 200);
    CHECK(v.body == json::parse(R"({"userId":")" + id +
                                R"(","name":"laptop","expiresAt":"2030-01-01T00:00:00.000Z","roles":["USER"]})"));

    auto bus = h.command(lt::auth::kVerifyKey.name, json::object{{"apiKey", key}});
    REQUIRE(bus);
    auto verified = lt::bus::decode<lt::auth::VerifiedKey>(*bus);
    REQUIRE(verified);
    CHECK(verified->user_id == id);
    CHECK(verified->roles == std::vector<std::string>{"USER"});
    CHECK(h.metrics().render().find("auth_api_key_create_total{outcome=\"success\",reason=\"\"} 1") !=
          std::string::npos);
}

TEST_CASE("API key validation answers 401 with the original messages") {
    Harness h;
    auto [id, token] = h.register_user("gina");
    auto expired = h.post(kKeys, json::object{{"userId", id}, {"expiresAt", "2020-01-01T00:00:00Z"}}, user(id));
    REQUIRE(expired.status == 201);
    struct Case {
        std::map<std::string, std::string> headers;
        std::string message;
    };
    for (const auto& c : {Case{{}, "api key is required"}, Case{{{"X-Api-Key", "   "}}, "api key is required"},
                          Case{{{"X-Api-Key", "leaky_bogus"}}, "invalid api key"},
                          Case{{{"X-Api-Key", std::string(5000, 'k')}}, "invalid api key"},
                          Case{{{"X-Api-Key", expired.str("apiKey")}}, "api key expired"}}) {
        auto r = h.call("GET", kValidate, {}, std::nullopt, c.headers);
        CHECK(r.status == 401);
        CHECK(r.message() == c.message);
        check_error_shape(r, kValidate);
    }
    auto bus = h.command(lt::auth::kVerifyKey.name, json::object{{"apiKey", "leaky_bogus"}});
    REQUIRE_FALSE(bus);
    CHECK(bus.error().code == lt::Errc::unauthenticated);
    CHECK(bus.error().message == "invalid api key");
    auto text = h.metrics().render();
    CHECK(text.find("auth_api_key_validate_total{outcome=\"failure\",reason=\"missing\"} 2") != std::string::npos);
    CHECK(text.find("auth_api_key_validate_total{outcome=\"failure\",reason=\"expired\"} 1") != std::string::npos);
    CHECK(text.find("auth_api_key_validate_total{outcome=\"failure\",reason=\"invalid\"} 3") != std::string::npos);
}

TEST_CASE("listing API keys: 400 without userId, 403 for others, summaries without secrets") {
    Harness h;
    auto [id, token] = h.register_user("hank");
    auto [other, t2] = h.register_user("ivy");
    REQUIRE(h.post(kKeys, json::object{{"userId", id}, {"name", "one"}}, user(id)).status == 201);
    REQUIRE(h.post(kKeys, json::object{{"userId", id}}, user(id)).status == 201);
    CHECK(h.call("GET", kKeys + "?userId=" + id).status == 401);
    CHECK(h.call("GET", kKeys, {}, user(id)).status == 400);
    CHECK(h.call("GET", kKeys + "?userId=" + id, {}, user(other)).status == 403);
    CHECK(h.call("GET", kKeys + "?userId=", {}, user(id)).status == 400);
    auto blank = h.call("GET", kKeys + "?userId=", {}, admin());
    CHECK(blank.status == 400);
    CHECK(blank.message() == "userId is required");
    auto invalid = h.call("GET", kKeys + "?userId=xyz", {}, admin());
    CHECK(invalid.status == 400);
    CHECK(invalid.message() == "invalid userId");
    auto list = h.call("GET", kKeys + "?userId=" + id, {}, user(id));
    REQUIRE(list.status == 200);
    REQUIRE(list.body.as_array().size() == 2);
    for (const auto& item : list.body.as_array()) {
        std::vector<std::string> keys;
        for (const auto& kv : item.as_object()) keys.emplace_back(kv.key());
        CHECK(keys == std::vector<std::string>{"id", "name", "createdAt", "expiresAt"});
    }
    CHECK(h.call("GET", kKeys + "?userId=" + other, {}, admin()).body == json::array{});
}

TEST_CASE("revoking an API key: 400s, 404 for another user's key, 204 and the event before the answer") {
    Harness h;
    auto [id, token] = h.register_user("jack");
    auto [other, t2] = h.register_user("kate");
    auto created = h.post(kKeys, json::object{{"userId", id}}, user(id));
    REQUIRE(created.status == 201);
    const auto key_id = created.str("id");
    const auto raw = created.str("apiKey");
    auto del = [&](const std::string& query, std::optional<lt::bus::Principal> p) {
        return h.call("DELETE", kKeys + query, {}, std::move(p));
    };
    CHECK(del("?userId=" + id + "&apiKeyId=" + key_id, std::nullopt).status == 401);
    CHECK(del("?apiKeyId=" + key_id, user(id)).status == 400);
    CHECK(del("?userId=" + id, user(id)).status == 400);
    CHECK(del("?userId=" + id + "&apiKeyId=" + key_id, user(other)).status == 403);
    auto blank = del("?userId=" + id + "&apiKeyId=%20", user(id));
    CHECK(blank.status == 400);
    CHECK(blank.message() == "apiKeyId is required");
    auto bad = del("?userId=" + id + "&apiKeyId=not-a-uuid", user(id));
    CHECK(bad.status == 400);
    CHECK(bad.message() == "Invalid UUID string: not-a-uuid");
    // Malformed input is a 400 before ownership is checked (CONTRACT 2), also for another user's id.
    CHECK(del("?userId=" + id + "&apiKeyId=not-a-uuid", user(other)).status == 400);
    CHECK(del("?userId=" + id + "&apiKeyId=%20", user(other)).message() == "apiKeyId is required");
    auto foreign = del("?userId=" + other + "&apiKeyId=" + key_id, user(other));
    CHECK(foreign.status == 404);
    CHECK(foreign.message() == "api key not found");
    CHECK(h.events_of(lt::auth::kApiKeyRevoked.name).empty());

    auto ok = del("?userId=" + id + "&apiKeyId=" + key_id, user(id));
    CHECK(ok.status == 204);
    CHECK(ok.raw.body.empty());
    auto events = h.events_of(lt::auth::kApiKeyRevoked.name);
    REQUIRE(events.size() == 1);
    CHECK(events[0].body == json::object{{"keyHash", lt::crypto::sha256_hex(raw)}, {"userId", id}});
    auto v = h.call("GET", kValidate, {}, std::nullopt, {{"X-Api-Key", raw}});
    CHECK(v.status == 401);
    CHECK(v.message() == "invalid api key");
    CHECK(del("?userId=" + id + "&apiKeyId=" + key_id, user(id)).status == 404);
}

TEST_CASE("the JWKS lists the current key with the kid of issued tokens") {
    Harness h;
    auto [id, token] = h.register_user("liam");
    auto r = h.call("GET", "/oauth2/jwks");
    REQUIRE(r.status == 200);
    const auto& keys = r.body.at("keys").as_array();
    REQUIRE(keys.size() == 1);
    const auto& k = keys[0].as_object();
    CHECK(k.at("kty") == "RSA");
    CHECK(k.at("e") == "AQAB");
    CHECK(k.at("n").as_string().size() > 300);
    CHECK(lt::jwt::peek_kid(token) == std::string(k.at("kid").as_string()));
    CHECK_FALSE(k.contains("d"));
}

TEST_CASE("only an ADMIN changes roles, and the change shows at the next login and is announced") {
    Harness h;
    auto [id, token] = h.register_user("mia", "mia-pw");
    const std::string path = "/api/v1/auth/users/" + id + "/roles/";
    CHECK(h.call("PUT", path + "ADMIN").status == 401);
    CHECK(h.call("PUT", path + "ADMIN", {}, user(id)).status == 403);
    auto bad_role = h.call("PUT", path + "ROOT", {}, admin());
    CHECK(bad_role.status == 400);
    CHECK(h.call("PUT", "/api/v1/auth/users/nope/roles/ADMIN", {}, admin()).status == 400);
    auto unknown = h.call("PUT", "/api/v1/auth/users/" + lt::new_uuid() + "/roles/ADMIN", {}, admin());
    CHECK(unknown.status == 404);
    CHECK(unknown.message() == "user not found");

    CHECK(h.call("PUT", path + "ADMIN", {}, admin()).status == 204);
    CHECK(h.call("PUT", path + "admin", {}, admin()).status == 204);  // idempotent, any case
    auto events = h.events_of(lt::auth::kUserRolesChanged.name);
    REQUIRE(events.size() == 2);
    // Every change bumps the user's roles version (JWT claim "rv"), announced with it.
    CHECK(events[0].body == json::object{{"userId", id}, {"rolesVersion", 1}});
    CHECK(events[1].body == json::object{{"userId", id}, {"rolesVersion", 2}});
    auto login = h.post(kLogin, json::object{{"username", "mia"}, {"password", "mia-pw"}});
    CHECK(login.body.at("roles") == json::array{"ADMIN", "USER"});
    auto claims = lt::jwt::verify(login.str("token"), h.published_keys(), h.clock().now());
    REQUIRE(claims);
    CHECK(claims->roles == std::vector<std::string>{"ADMIN", "USER"});

    CHECK(h.call("DELETE", path + "ADMIN", {}, admin()).status == 204);
    login = h.post(kLogin, json::object{{"username", "mia"}, {"password", "mia-pw"}});
    CHECK(login.body.at("roles") == json::array{"USER"});
}

TEST_CASE("key rotation: the new key signs, old tokens verify until they expire, then the old key goes") {
    Harness h({"auth.jwt.expiry-seconds=600"});
    auto [id, old_token] = h.register_user("noah", "noah-pw");
    const auto old_kid = *lt::jwt::peek_kid(old_token);
    CHECK(h.post("/api/v1/auth/keys/rotate", json::object{}, user(id)).status == 403);
    auto rot = h.post("/api/v1/auth/keys/rotate", json::object{}, admin());
    REQUIRE(rot.status == 200);
    const auto new_kid = rot.str("kid");
    CHECK(new_kid != old_kid);
    CHECK(h.events_of(lt::auth::kKeysRotated.name).size() == 1);

    auto fresh = h.post(kLogin, json::object{{"username", "noah"}, {"password", "noah-pw"}}).str("token");
    CHECK(lt::jwt::peek_kid(fresh) == new_kid);
    auto keys = h.published_keys();
    CHECK(keys.keys().size() == 2);
    CHECK(lt::jwt::verify(old_token, keys, h.clock().now()));
    CHECK(lt::jwt::verify(fresh, keys, h.clock().now()));
    CHECK(h.call("GET", "/oauth2/jwks").body.at("keys").as_array().size() == 2);

    // Past the old tokens' lifetime (plus skew) only the new key is published.
    h.clock().advance(std::chrono::seconds(600 + 61));
    auto later = h.published_keys();
    CHECK(later.keys().size() == 1);
    CHECK(later.find(new_kid) != nullptr);
}

TEST_CASE("a restart on the same SQLite file keeps users, roles, API keys and the signing key") {
    TempDir dir;
    const auto file = dir.path() / "auth.db";
    lt::FakeClock clock;
    std::string id, token, raw;
    {
        Harness first({}, file, &clock);
        std::tie(id, token) = first.register_user("olga", "olga-pw");
        REQUIRE(first.call("PUT", "/api/v1/auth/users/" + id + "/roles/ADMIN", {}, admin()).status == 204);
        raw = first.post(kKeys, json::object{{"userId", id}}, user(id)).str("apiKey");
    }
    Harness second({}, file, &clock);
    CHECK(lt::jwt::verify(token, second.published_keys(), clock.now()));
    auto login = second.post(kLogin, json::object{{"username", "olga"}, {"password", "olga-pw"}});
    REQUIRE(login.status == 200);
    CHECK(login.str("userId") == id);
    CHECK(login.body.at("roles") == json::array{"ADMIN", "USER"});
    CHECK(lt::jwt::peek_kid(login.str("token")) == lt::jwt::peek_kid(token));
    auto v = second.call("GET", kValidate, {}, std::nullopt, {{"X-Api-Key", raw}});
    CHECK(v.status == 200);
    CHECK(v.body.at("roles") == json::array{"ADMIN", "USER"});
}

TEST_CASE("the bootstrap admin is created at start and updated at the next start") {
    TempDir dir;
    const auto file = dir.path() / "auth.db";
    std::string id;
    {
        Harness h({"auth.bootstrap-admin.username=root", "auth.bootstrap-admin.password=first-pw"}, file);
        auto r = h.post(kLogin, json::object{{"username", "root"}, {"password", "first-pw"}});
        REQUIRE(r.status == 200);
        CHECK(r.body.at("roles") == json::array{"ADMIN", "USER"});
        id = r.str("userId");
        // The default email is taken: <username>@localhost.
        CHECK(h.post(kRegister, reg("other", "root@localhost", "pw")).message() == "email already exists");
    }
    Harness h({"auth.bootstrap-admin.username=root", "auth.bootstrap-admin.password=second-pw"}, file);
    CHECK(h.post(kLogin, json::object{{"username", "root"}, {"password", "first-pw"}}).status == 401);
    auto r = h.post(kLogin, json::object{{"username", "root"}, {"password", "second-pw"}});
    REQUIRE(r.status == 200);
    CHECK(r.str("userId") == id);
}
