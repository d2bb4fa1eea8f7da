// OAuth2 endpoints of the auth module: the client_credentials grant (CONTRACT.md 13a) and JWT
// revocation by jti (RFC 7009), including the revoked list verifiers fetch over the bus.
#include <doctest/doctest.h>

#include "auth_harness.hpp"
#include "lt/core/crypto.hpp"
#include "lt/core/time.hpp"

using lt::auth::test::Harness;
using lt::auth::test::Reply;
using lt::auth::test::user;
namespace json = boost::json;

namespace {
// bcrypt (cost 10) of "secret".
const std::string kSecretHash = "$2b$10$WW.lsdmYUXS8/MIXEmtiHerHFsHMt0V8Ah3rndn3inHE0CUsQns/i";
const std::string kToken = "/oauth2/token";
const std::string kRevoke = "/oauth2/revoke";
const std::map<std::string, std::string> kForm{{"Content-Type", "application/x-www-form-urlencoded"}};

std::vector<std::string> client_config() {
    return {"auth.oauth2.clients.reporter.secret-hash=" + kSecretHash,
            "auth.oauth2.clients.reporter.scopes=tokens.read,tokens.write"};
}

std::map<std::string, std::string> basic(const std::string& id, const std::string& secret) {
    auto b64 = lt::crypto::base64url_encode(id + ":" + secret);
    for (auto& c : b64) {
        if (c == '-') c = '+';
        if (c == '_') c = '/';
    }
    while (b64.size() % 4 != 0) b64 += '=';
    auto h = kForm;
    h["Authorization"] = "Basic " + b64;
    return h;
}

void check_oauth_error(const Reply& r, int status, const std::string& error) {
    CHECK(r.status == status);
    CHECK(r.str("error") == error);
    CHECK_FALSE(r.str("error_description").empty());
    CHECK(r.raw.header("Cache-Control") == "no-store");
}
}  // namespace

TEST_CASE("client_credentials issues an RS256 token for the client with its scopes") {
    Harness h(client_config());
    auto r = h.call("POST", kToken, "grant_type=client_credentials", std::nullopt, basic("reporter", "secret"));
    REQUIRE(r.status == 200);
    CHECK(r.str("token_type") == "Bearer");
    CHECK(r.body.at("expires_in") == 3600);
    CHECK(r.str("scope") == "tokens.read tokens.write");
    CHECK(r.raw.header("Cache-Control") == "no-store");
    auto claims = lt::jwt::verify(r.str("access_token"), h.published_keys(), h.clock().now());
    REQUIRE(claims);
    CHECK(claims->sub == "reporter");
    CHECK(claims->roles.empty());
    CHECK(claims->scope == "tokens.read tokens.write");

    // Form credentials work too, and a subset of the scopes may be requested.
    auto sub = h.call("POST", kToken, "grant_type=client_credentials&client_id=reporter&client_secret=secret&scope=tokens.read",
                      std::nullopt, kForm);
    REQUIRE(sub.status == 200);
    CHECK(sub.str("scope") == "tokens.read");
}

TEST_CASE("client_credentials authenticates the client first: 401 invalid_client before any 400") {
    Harness h(client_config());
    for (const auto& headers : {kForm, basic("reporter", "wrong"), basic("stranger", "secret")}) {
        auto r = h.call("POST", kToken, "grant_type=password", std::nullopt, headers);
        check_oauth_error(r, 401, "invalid_client");
        CHECK(r.raw.header("WWW-Authenticate").rfind("Basic", 0) == 0);
    }
    auto form_wrong = h.call("POST", kToken, "grant_type=client_credentials&client_id=reporter&client_secret=nope",
                             std::nullopt, kForm);
    check_oauth_error(form_wrong, 401, "invalid_client");
}

TEST_CASE("client_credentials answers 400 for a missing or unsupported grant type and a scope beyond the client's") {
    Harness h(client_config());
    auto auth = basic("reporter", "secret");
    check_oauth_error(h.call("POST", kToken, "", std::nullopt, auth), 400, "invalid_request");
    check_oauth_error(h.call("POST", kToken, "grant_type=password", std::nullopt, auth), 400, "unsupported_grant_type");
    check_oauth_error(h.call("POST", kToken, "grant_type=client_credentials&scope=tokens.read%20admin", std::nullopt, auth),
                      400, "invalid_scope");
    check_oauth_error(
        h.call("POST", kToken, "grant_type=client_credentials&grant_type=client_credentials", std::nullopt, auth), 400,
        "invalid_request");
}

TEST_CASE("no OAuth2 client exists by default") {
    Harness h;
    auto r = h.call("POST", kToken, "grant_type=client_credentials&client_id=leaky-client&client_secret=leaky-secret",
                    std::nullopt, kForm);
    check_oauth_error(r, 401, "invalid_client");
}

TEST_CASE("a user revokes their own token and its jti is announced and listed for verifiers until it expires") {
    Harness h;
    auto [id, token] = h.register_user("paul");
    auto claims = lt::jwt::verify(token, h.published_keys(), h.clock().now());
    REQUIRE(claims);
    CHECK(h.call("POST", kRevoke, "token=" + token, std::nullopt, kForm).status == 401);
    auto r = h.call("POST", kRevoke, "token=" + token, user(id), kForm);
    CHECK(r.status == 200);
    CHECK(r.body == json::object{});
    auto events = h.events_of(lt::auth::kTokenRevoked.name);
    REQUIRE(events.size() == 1);
    CHECK(events[0].body == json::object{{"jti", claims->jti}, {"exp", claims->exp}});

    auto jwks = h.command(lt::auth::kJwks.name, json::object{});
    REQUIRE(jwks);
    CHECK(jwks->at("revoked") == json::array{json::object{{"jti", claims->jti}, {"exp", claims->exp}}});
    CHECK(jwks->at("keys").as_array().size() == 1);

    // Once the token is past exp + skew, nobody needs its jti.
    h.clock().advance(std::chrono::seconds(3600 + 61));
    jwks = h.command(lt::auth::kJwks.name, json::object{});
    REQUIRE(jwks);
    CHECK(jwks->at("revoked") == json::array{});
}

TEST_CASE("revoking another user's token is 403 unless ADMIN, and invalid tokens answer 200 and change nothing") {
    Harness h;
    auto [alice, alice_token] = h.register_user("alice");
    auto [bob, bob_token] = h.register_user("bob");
    auto denied = h.call("POST", kRevoke, "token=" + alice_token, user(bob), kForm);
    CHECK(denied.status == 403);
    CHECK(h.call("POST", kRevoke, "token=garbage", user(bob), kForm).status == 200);
    auto tampered = bob_token;
    auto& c = tampered[tampered.size() / 2];
    c = c == 'A' ? 'B' : 'A';
    CHECK(h.call("POST", kRevoke, "token=" + tampered, user(bob), kForm).status == 200);
    CHECK(h.events_of(lt::auth::kTokenRevoked.name).empty());

    auto missing = h.call("POST", kRevoke, "", user(bob), kForm);
    CHECK(missing.status == 400);
    CHECK(missing.str("error") == "invalid_request");

    auto as_admin = h.call("POST", kRevoke, json::serialize(json::object{{"token", alice_token}}),
                           user(bob, {"ADMIN", "USER"}), {{"Content-Type", "application/json"}});
    CHECK(as_admin.status == 200);
    CHECK(h.events_of(lt::auth::kTokenRevoked.name).size() == 1);
    CHECK(h.call("POST", kRevoke, "{oops", user(bob), {{"Content-Type", "application/json"}}).status == 400);
}
