#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lt/core/jwt.hpp"
#include "unit/crypto_test_keys.hpp"

namespace json = boost::json;
using namespace std::chrono;
using lt::crypto::base64url_decode;
using lt::crypto::base64url_encode;

namespace {

constexpr std::int64_t kNow = 1770287700;  // 2026-02-05T10:35:00Z
const system_clock::time_point now_tp{seconds(kNow)};

lt::jwt::Claims sample_claims() {
    lt::jwt::Claims c;
    c.sub = "user-42";
    c.iss = "leaky-tokens";
    c.roles = {"admin_readonly", "user"};
    c.jti = "7f1d8a7e-3c1b-4c59-9d2e-8d6f0d1b2c3a";
    c.iat = kNow - 10;
    c.exp = kNow + 900;
    return c;
}

lt::jwt::KeySet key_set() {
    lt::jwt::KeySet ks;
    ks.add("k1", lt::test::test_key());
    return ks;
}

std::string sign_ok(const lt::jwt::Claims& c, const lt::crypto::RsaKey& key = lt::test::test_key(),
                    std::string_view kid = "k1") {
    auto t = lt::jwt::sign(c, key, kid);
    REQUIRE(t);
    return *t;
}

std::string part(const std::string& token, int index) {
    auto a = token.find('.');
    auto b = token.find('.', a + 1);
    if (index == 0) return token.substr(0, a);
    if (index == 1) return token.substr(a + 1, b - a - 1);
    return token.substr(b + 1);
}

json::object decode_part(const std::string& token, int index) {
    auto text = base64url_decode(part(token, index));
    REQUIRE(text);
    return json::parse(*text).as_object();
}

std::string encode_json(const json::object& o) { return base64url_encode(json::serialize(o)); }

/// header.payload signed RS256 with `key`: a well-formed signature over arbitrary header/payload.
std::string rs256_token(const json::object& header, const json::object& payload,
                        const lt::crypto::RsaKey& key = lt::test::test_key()) {
    auto input = encode_json(header) + "." + encode_json(payload);
    auto sig = key.sign_rs256(input);
    REQUIRE(sig);
    return input + "." + base64url_encode(*sig);
}

json::object default_payload() { return decode_part(sign_ok(sample_claims()), 1); }

/// Expects Errc::unauthenticated; `reason` (when given) must appear in the message, the token never.
void check_rejected(const std::string& token, std::string_view reason = {}, const lt::jwt::KeySet& ks = key_set()) {
    auto r = lt::jwt::verify(token, ks, now_tp);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == lt::Errc::unauthenticated);
    CHECK(r.error().message.find(reason) != std::string::npos);
    CHECK(r.error().message.find(part(token, 2).empty() ? "\x01" : part(token, 2)) == std::string::npos);
    if (token.size() > 20) CHECK(r.error().message.find(token.substr(0, 20)) == std::string::npos);
}

}  // namespace

TEST_CASE("a signed token verifies and yields its claims") {
    auto c = sample_claims();
    c.roles = {"b_role", "a_role"};
    auto r = lt::jwt::verify(sign_ok(c), key_set(), now_tp);
    REQUIRE(r);
    CHECK(r->sub == "user-42");
    CHECK(r->iss == "leaky-tokens");
    CHECK(r->roles == std::vector<std::string>{"b_role", "a_role"});
    CHECK(r->jti == c.jti);
    CHECK(r->iat == c.iat);
    CHECK(r->exp == c.exp);
    CHECK_FALSE(r->nbf);
    CHECK(r->scope.empty());
}

TEST_CASE("optional nbf and scope are carried when set and omitted when not") {
    auto plain = decode_part(sign_ok(sample_claims()), 1);
    CHECK_FALSE(plain.contains("nbf"));
    CHECK_FALSE(plain.contains("scope"));
    CHECK(plain.at("roles").is_array());

    auto c = sample_claims();
    c.roles.clear();
    c.nbf = kNow - 5;
    c.scope = "chat:write quota:read";
    auto token = sign_ok(c);
    auto payload = decode_part(token, 1);
    CHECK(payload.at("roles").as_array().empty());
    auto r = lt::jwt::verify(token, key_set(), now_tp);
    REQUIRE(r);
    CHECK(r->roles.empty());
    REQUIRE(r->nbf);
    CHECK(*r->nbf == kNow - 5);
    CHECK(r->scope == "chat:write quota:read");
}

TEST_CASE("the token header names the key id, alg RS256 and typ JWT") {
    auto header = decode_part(sign_ok(sample_claims(), lt::test::test_key(), "key-2026"), 0);
    CHECK(header.at("alg").as_string() == "RS256");
    CHECK(header.at("typ").as_string() == "JWT");
    CHECK(header.at("kid").as_string() == "key-2026");
    CHECK(header.size() == 3);
}

TEST_CASE("signing needs a kid, a subject and a private key") {
    auto pub = lt::crypto::RsaKey::from_public_pem(lt::test::test_key().public_pem());
    REQUIRE(pub);
    CHECK_FALSE(lt::jwt::sign(sample_claims(), lt::test::test_key(), ""));
    CHECK_FALSE(lt::jwt::sign(sample_claims(), *pub, "k1"));
    auto c = sample_claims();
    c.sub.clear();
    CHECK_FALSE(lt::jwt::sign(c, lt::test::test_key(), "k1"));
}

TEST_CASE("an unsigned alg none token is rejected") {
    json::object header{{"alg", "none"}, {"typ", "JWT"}, {"kid", "k1"}};
    check_rejected(encode_json(header) + "." + encode_json(default_payload()) + ".", "algorithm");
    json::object upper{{"alg", "None"}, {"kid", "k1"}};
    check_rejected(encode_json(upper) + "." + encode_json(default_payload()) + ".", "algorithm");
}

TEST_CASE("an HS256 token HMAC-signed with the public key PEM as secret is rejected") {
    auto secret = lt::test::test_key().public_pem();
    json::object header{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "k1"}};
    auto input = encode_json(header) + "." + encode_json(default_payload());
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    REQUIRE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len) != nullptr);
    auto forged = input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), mac_len));
    check_rejected(forged, "algorithm");
}

TEST_CASE("any alg other than exactly RS256 is rejected even with a valid RS256 signature") {
    for (const char* alg : {"rs256", "RS384", "PS256", "RS256 ", ""}) {
        json::object header{{"alg", alg}, {"typ", "JWT"}, {"kid", "k1"}};
        check_rejected(rs256_token(header, default_payload()), "algorithm");
    }
    json::object no_alg{{"typ", "JWT"}, {"kid", "k1"}};
    check_rejected(rs256_token(no_alg, default_payload()), "algorithm");
    json::object crit{{"alg", "RS256"}, {"kid", "k1"}, {"crit", json::array{"exp"}}};
    check_rejected(rs256_token(crit, default_payload()), "header");
}

TEST_CASE("an expired token is rejected beyond the skew and accepted within it") {
    auto c = sample_claims();
    c.iat = kNow - 1000;
    c.exp = kNow - 30;
    CHECK(lt::jwt::verify(sign_ok(c), key_set(), now_tp));
    c.exp = kNow - 60;
    CHECK(lt::jwt::verify(sign_ok(c), key_set(), now_tp));
    c.exp = kNow - 61;
    check_rejected(sign_ok(c), "expired");
    c.exp = kNow - 30;
    auto strict = lt::jwt::verify(sign_ok(c), key_set(), now_tp, seconds(0));
    REQUIRE_FALSE(strict);
    CHECK(strict.error().code == lt::Errc::unauthenticated);
}

TEST_CASE("a token whose nbf or iat lies beyond the skew in the future is rejected") {
    auto c = sample_claims();
    c.nbf = kNow + 30;
    CHECK(lt::jwt::verify(sign_ok(c), key_set(), now_tp));
    c.nbf = kNow + 61;
    check_rejected(sign_ok(c), "not yet valid");
    c = sample_claims();
    c.iat = kNow + 120;
    check_rejected(sign_ok(c), "future");
}

TEST_CASE("a tampered payload keeping the original signature is rejected") {
    auto token = sign_ok(sample_claims());
    auto payload = decode_part(token, 1);
    payload["roles"] = json::array{"ADMIN"};
    check_rejected(part(token, 0) + "." + encode_json(payload) + "." + part(token, 2), "signature");
    auto sig = *base64url_decode(part(token, 2));
    sig[0] = static_cast<char>(sig[0] ^ 0x80);
    check_rejected(part(token, 0) + "." + part(token, 1) + "." + base64url_encode(sig), "signature");
}

TEST_CASE("unknown, missing or empty kids are rejected") {
    check_rejected(sign_ok(sample_claims(), lt::test::test_key(), "k2"), "unknown");
    json::object no_kid{{"alg", "RS256"}, {"typ", "JWT"}};
    check_rejected(rs256_token(no_kid, default_payload()), "key id");
    json::object empty_kid{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", ""}};
    check_rejected(rs256_token(empty_kid, default_payload()), "key id");
    json::object numeric_kid{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", 1}};
    check_rejected(rs256_token(numeric_kid, default_payload()), "key id");
}

TEST_CASE("a token signed by a foreign key under a known kid is rejected") {
    check_rejected(sign_ok(sample_claims(), lt::test::foreign_key(), "k1"), "signature");
}

TEST_CASE("tokens without exp or sub, or with mistyped claims, are rejected") {
    json::object header{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "k1"}};
    auto p = default_payload();
    p.erase("exp");
    check_rejected(rs256_token(header, p), "expiry");
    p = default_payload();
    p.erase("sub");
    check_rejected(rs256_token(header, p), "subject");
    p = default_payload();
    p["exp"] = "2099-01-01";
    check_rejected(rs256_token(header, p));
    p = default_payload();
    p["exp"] = 1.0e12;
    check_rejected(rs256_token(header, p));
    p = default_payload();
    p["roles"] = "admin";
    check_rejected(rs256_token(header, p));
    p = default_payload();
    p["roles"] = json::array{"user", 7};
    check_rejected(rs256_token(header, p));
    // A huge exp cannot overflow the expiry arithmetic.
    p = default_payload();
    p["exp"] = std::numeric_limits<std::int64_t>::max();
    CHECK(lt::jwt::verify(rs256_token(header, p), key_set(), now_tp));
    p["exp"] = std::numeric_limits<std::uint64_t>::max();
    check_rejected(rs256_token(header, p));
}

TEST_CASE("garbage, two-part, four-part and oversized tokens are rejected") {
    auto token = sign_ok(sample_claims());
    for (std::string bad : {std::string(), std::string("garbage"), std::string("a.b"), std::string(".."),
                            part(token, 0) + "." + part(token, 1), token + ".", token + ".x",
                            part(token, 0) + "=." + part(token, 1) + "." + part(token, 2),
                            "e30." + part(token, 1) + "." + part(token, 2),
                            base64url_encode("[1,2]") + "." + part(token, 1) + "." + part(token, 2),
                            base64url_encode("{\"alg\":") + "." + part(token, 1) + "." + part(token, 2),
                            part(token, 0) + ".!!." + part(token, 2)}) {
        auto r = lt::jwt::verify(bad, key_set(), now_tp);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == lt::Errc::unauthenticated);
    }
    auto c = sample_claims();
    c.scope = std::string(8 * 1024, 's');
    auto big = sign_ok(c);
    CHECK(big.size() > 8 * 1024);
    check_rejected(big, "too large");
}

TEST_CASE("a key set survives a JWKS round trip and verifies tokens") {
    lt::jwt::KeySet ks;
    ks.add("k1", lt::test::test_key());
    ks.add("k2", lt::test::foreign_key());
    auto doc = lt::jwt::to_jwks(ks);
    const auto& keys = doc.at("keys").as_array();
    REQUIRE(keys.size() == 2);
    const auto& k = keys[0].as_object();
    CHECK(k.at("kty").as_string() == "RSA");
    CHECK(k.at("alg").as_string() == "RS256");
    CHECK(k.at("use").as_string() == "sig");
    CHECK(k.at("kid").as_string() == "k1");
    CHECK(k.at("e").as_string() == "AQAB");
    CHECK_FALSE(k.contains("d"));

    auto back = lt::jwt::from_jwks(json::parse(json::serialize(doc)));
    REQUIRE(back);
    REQUIRE(back->keys().size() == 2);
    CHECK_FALSE(back->find("k1")->has_private());
    CHECK(lt::jwt::verify(sign_ok(sample_claims(), lt::test::test_key(), "k1"), *back, now_tp));
    CHECK(lt::jwt::verify(sign_ok(sample_claims(), lt::test::foreign_key(), "k2"), *back, now_tp));
    check_rejected(sign_ok(sample_claims(), lt::test::foreign_key(), "k1"), "signature", *back);
}

TEST_CASE("from_jwks skips foreign key types and rejects malformed RSA keys") {
    auto n = lt::test::test_key().jwk_n();
    auto ok = lt::jwt::from_jwks(json::parse(R"({"keys":[{"kty":"EC","kid":"ec","crv":"P-256"},
        {"kty":"RSA","kid":"enc","use":"enc","n":")" + n + R"(","e":"AQAB"},
        {"kty":"RSA","kid":"k1","n":")" + n + R"(","e":"AQAB"}]})"));
    REQUIRE(ok);
    CHECK(ok->keys().size() == 1);
    CHECK(ok->find("k1") != nullptr);

    for (std::string bad : {std::string(R"([])"), std::string(R"({"keys":{}})"), std::string(R"({"keys":[1]})"),
                            std::string(R"({"keys":[{"kty":"RSA","n":")") + n + R"(","e":"AQAB"}]})",
                            std::string(R"({"keys":[{"kty":"RSA","kid":"a","e":"AQAB"}]})"),
                            std::string(R"({"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]})"),
                            std::string(R"({"keys":[{"kty":"RSA","kid":"a","n":")") + n + R"(","e":"AQAB"},
                                {"kty":"RSA","kid":"a","n":")" + n + R"(","e":"AQAB"}]})"}) {
        auto r = lt::jwt::from_jwks(json::parse(bad));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == lt::Errc::invalid_argument);
    }
}

TEST_CASE("peek_kid returns the unverified kid and nothing for malformed tokens") {
    auto kid = lt::jwt::peek_kid(sign_ok(sample_claims(), lt::test::foreign_key(), "rotated-7"));
    REQUIRE(kid);
    CHECK(*kid == "rotated-7");
    CHECK_FALSE(lt::jwt::peek_kid("garbage"));
    CHECK_FALSE(lt::jwt::peek_kid("a.b"));
    json::object no_kid{{"alg", "RS256"}};
    CHECK_FALSE(lt::jwt::peek_kid(encode_json(no_kid) + ".e30.sig"));
    CHECK_FALSE(lt::jwt::peek_kid(std::string(9000, 'a') + ".b.c"));
}
