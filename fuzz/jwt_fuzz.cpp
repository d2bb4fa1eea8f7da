// libFuzzer target: the JWT parser and verifier (RS256 only) and JWKS parsing. A fuzzed token must
// never verify unless it is one we signed; peek_kid and from_jwks must not crash on anything.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>

#include "lt/core/crypto.hpp"
#include "lt/core/jwt.hpp"

namespace {

struct Keys {
    lt::jwt::KeySet set;
    Keys() {
        auto key = lt::crypto::RsaKey::generate(2048);
        if (!key) __builtin_trap();
        set.add("k1", *key);
        auto pub = lt::crypto::RsaKey::from_public_pem(key->public_pem());
        if (!pub) __builtin_trap();
        set.add("k2", *pub);
    }
};

const Keys& keys() {
    static const Keys k;
    return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view token(reinterpret_cast<const char*>(data), size);
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
    (void)lt::jwt::peek_kid(token);
    auto claims = lt::jwt::verify(token, keys().set, now);
    // Nobody but this process holds the private key: a fuzzed token cannot carry a valid signature.
    if (claims) __builtin_trap();
    boost::system::error_code ec;
    auto v = boost::json::parse(token, ec);
    if (!ec) (void)lt::jwt::from_jwks(v);
    (void)lt::crypto::base64url_decode(token);
    return 0;
}
