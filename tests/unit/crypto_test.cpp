#include <doctest/doctest.h>

#include <set>
#include <string>

#include "lt/core/crypto.hpp"
#include "unit/crypto_test_keys.hpp"

using lt::crypto::RsaKey;

TEST_CASE("sha256 of abc matches the FIPS 180-2 test vector") {
    CHECK(lt::crypto::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(lt::crypto::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("random hex has two characters per byte and does not repeat") {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        auto h = lt::crypto::random_hex(16);
        CHECK(h.size() == 32);
        CHECK(h.find_first_not_of("0123456789abcdef") == std::string::npos);
        seen.insert(h);
    }
    CHECK(seen.size() == 100);
    CHECK(lt::crypto::random_hex(0).empty());
    CHECK(lt::crypto::random_hex(1).size() == 2);
}

TEST_CASE("base64url round-trips every byte value at every length remainder") {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (std::size_t len = 0; len <= all.size(); ++len) {
        auto in = all.substr(all.size() - len);
        auto enc = lt::crypto::base64url_encode(in);
        CHECK(enc.find_first_of("+/=") == std::string::npos);
        auto dec = lt::crypto::base64url_decode(enc);
        REQUIRE(dec);
        CHECK(*dec == in);
    }
}

TEST_CASE("base64url matches the RFC 4648 vectors without padding") {
    CHECK(lt::crypto::base64url_encode("") == "");
    CHECK(lt::crypto::base64url_encode("f") == "Zg");
    CHECK(lt::crypto::base64url_encode("fo") == "Zm8");
    CHECK(lt::crypto::base64url_encode("foo") == "Zm9v");
    CHECK(lt::crypto::base64url_encode("foob") == "Zm9vYg");
    CHECK(lt::crypto::base64url_encode("\xfb\xff") == "-_8");
}

TEST_CASE("base64url decoding rejects padding, the standard alphabet and impossible lengths") {
    CHECK_FALSE(lt::crypto::base64url_decode("Zg=="));
    CHECK_FALSE(lt::crypto::base64url_decode("Zm8="));
    CHECK_FALSE(lt::crypto::base64url_decode("+_8"));
    CHECK_FALSE(lt::crypto::base64url_decode("-/8"));
    CHECK_FALSE(lt::crypto::base64url_decode("Zm 9v"));
    CHECK_FALSE(lt::crypto::base64url_decode("Zm9v\n"));
    CHECK_FALSE(lt::crypto::base64url_decode(std::string("Zm\0v", 4)));
    CHECK_FALSE(lt::crypto::base64url_decode("Zm9vY"));  // 4k+1 characters
    CHECK_FALSE(lt::crypto::base64url_decode("Zh"));     // non-zero trailing bits
    CHECK(lt::crypto::base64url_decode("") == std::string());
}

TEST_CASE("a private key survives a PKCS#8 PEM round trip and still signs") {
    const auto& key = lt::test::test_key();
    CHECK(key.has_private());
    auto pem = key.private_pem();
    CHECK(pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
    auto back = RsaKey::from_private_pem(pem);
    REQUIRE(back);
    CHECK(back->has_private());
    CHECK(back->jwk_n() == key.jwk_n());
    auto sig = back->sign_rs256("hello");
    REQUIRE(sig);
    CHECK(key.verify_rs256("hello", *sig));
}

TEST_CASE("a public key survives a PEM round trip and cannot sign") {
    const auto& key = lt::test::test_key();
    auto pem = key.public_pem();
    CHECK(pem.rfind("-----BEGIN PUBLIC KEY-----", 0) == 0);
    auto pub = RsaKey::from_public_pem(pem);
    REQUIRE(pub);
    CHECK_FALSE(pub->has_private());
    CHECK(pub->private_pem().empty());
    CHECK(pub->public_pem() == pem);
    auto no_sig = pub->sign_rs256("hello");
    REQUIRE_FALSE(no_sig);
    CHECK(no_sig.error().code == lt::Errc::invalid_argument);
    auto sig = key.sign_rs256("hello");
    REQUIRE(sig);
    CHECK(pub->verify_rs256("hello", *sig));
    CHECK_FALSE(RsaKey::from_private_pem(pem));
}

TEST_CASE("malformed PEM input is an invalid argument") {
    for (auto r : {RsaKey::from_private_pem(""), RsaKey::from_private_pem("-----BEGIN PRIVATE KEY-----\nxx\n"),
                   RsaKey::from_public_pem("garbage"), RsaKey::from_public_pem("")}) {
        REQUIRE_FALSE(r);
        CHECK(r.error().code == lt::Errc::invalid_argument);
    }
}

TEST_CASE("a key rebuilt from its JWK n and e verifies signatures of the original") {
    const auto& key = lt::test::test_key();
    CHECK(key.jwk_e() == "AQAB");
    CHECK(key.jwk_n().size() == 342);  // 256 bytes without padding
    auto pub = RsaKey::from_jwk(key.jwk_n(), key.jwk_e());
    REQUIRE(pub);
    CHECK_FALSE(pub->has_private());
    CHECK(pub->jwk_n() == key.jwk_n());
    CHECK(pub->public_pem() == key.public_pem());
    auto sig = key.sign_rs256("payload");
    REQUIRE(sig);
    CHECK(pub->verify_rs256("payload", *sig));
}

TEST_CASE("JWK members that are malformed, even or too small are rejected") {
    const auto& key = lt::test::test_key();
    auto n = key.jwk_n();
    CHECK_FALSE(RsaKey::from_jwk("", "AQAB"));
    CHECK_FALSE(RsaKey::from_jwk(n, ""));
    CHECK_FALSE(RsaKey::from_jwk(n + "=", "AQAB"));
    CHECK_FALSE(RsaKey::from_jwk(n, "AQAC"));                    // even exponent
    CHECK_FALSE(RsaKey::from_jwk(n, "AQ"));                      // e = 1
    CHECK_FALSE(RsaKey::from_jwk(lt::crypto::base64url_encode(std::string(128, '\xff')), "AQAB"));  // 1024 bits
    auto r = RsaKey::from_jwk("not base64!", "AQAB");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == lt::Errc::invalid_argument);
}

TEST_CASE("RS256 signatures verify only for the same data, signature and key") {
    const auto& key = lt::test::test_key();
    auto sig = key.sign_rs256("the data");
    REQUIRE(sig);
    CHECK(sig->size() == 256);
    CHECK(key.verify_rs256("the data", *sig));
    CHECK_FALSE(key.verify_rs256("the datA", *sig));
    auto flipped = *sig;
    flipped[100] = static_cast<char>(flipped[100] ^ 1);
    CHECK_FALSE(key.verify_rs256("the data", flipped));
    CHECK_FALSE(key.verify_rs256("the data", sig->substr(1)));
    CHECK_FALSE(key.verify_rs256("the data", ""));
    CHECK_FALSE(lt::test::foreign_key().verify_rs256("the data", *sig));
    // PKCS#1 v1.5 is deterministic.
    CHECK(*key.sign_rs256("the data") == *sig);
}

TEST_CASE("key sizes outside 2048 to 16384 bits are refused and a default key cannot sign") {
    auto small = RsaKey::generate(1024);
    REQUIRE_FALSE(small);
    CHECK(small.error().code == lt::Errc::invalid_argument);
    RsaKey empty;
    CHECK_FALSE(empty.has_private());
    CHECK(empty.public_pem().empty());
    CHECK(empty.jwk_n().empty());
    CHECK_FALSE(empty.sign_rs256("x"));
    CHECK_FALSE(empty.verify_rs256("x", std::string(256, 'a')));
}
