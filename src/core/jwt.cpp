#include "lt/core/jwt.hpp"

#include <array>
#include <cstdint>
#include <limits>

#include <boost/json/array.hpp>
#include <boost/json/error.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "lt/core/json.hpp"

namespace lt::jwt {

namespace json = boost::json;

namespace {

/// Tokens longer than this are rejected before any decoding.
constexpr std::size_t kMaxTokenSize = 8 * 1024;

tl::unexpected<Error> reject(std::string reason) { return fail(Errc::unauthenticated, std::move(reason)); }

/// The three dot-separated parts of a compact JWS; nullopt unless there are exactly three.
std::optional<std::array<std::string_view, 3>> split(std::string_view token) {
    if (token.empty() || token.size() > kMaxTokenSize) return std::nullopt;
    auto first = token.find('.');
    if (first == std::string_view::npos) return std::nullopt;
    auto second = token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    return std::array<std::string_view, 3>{token.substr(0, first), token.substr(first + 1, second - first - 1),
                                           token.substr(second + 1)};
}

/// base64url-decodes and parses a JSON object; nullopt on any malformation.
std::optional<json::object> decode_object(std::string_view part) {
    if (part.empty()) return std::nullopt;
    auto text = crypto::base64url_decode(part);
    if (!text) return std::nullopt;
    // parse_json also refuses repeated members (a second "alg" or "roles" must not win silently).
    auto v = parse_json(*text);
    if (!v || !v->is_object()) return std::nullopt;
    return std::move(v->as_object());
}

enum class Field { absent, ok, bad };

Field read_string(const json::object& o, std::string_view key, std::string& out) {
    auto it = o.find(key);
    if (it == o.end()) return Field::absent;
    if (!it->value().is_string()) return Field::bad;
    out.assign(it->value().as_string().data(), it->value().as_string().size());
    return Field::ok;
}

/// NumericDate as an integer (int64, or uint64 fitting int64). Fractions are not accepted.
Field read_int(const json::object& o, std::string_view key, std::int64_t& out) {
    auto it = o.find(key);
    if (it == o.end()) return Field::absent;
    const auto& v = it->value();
    if (v.is_int64()) {
        out = v.as_int64();
        return Field::ok;
    }
    if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        out = static_cast<std::int64_t>(v.as_uint64());
        return Field::ok;
    }
    return Field::bad;
}

Result<Claims> claims_from(const json::object& p) {
    Claims c;
    if (read_string(p, "sub", c.sub) != Field::ok || c.sub.empty()) return reject("token has no subject");
    if (read_int(p, "exp", c.exp) != Field::ok) return reject("token has no valid expiry");
    if (read_string(p, "iss", c.iss) == Field::bad || read_string(p, "jti", c.jti) == Field::bad ||
        read_string(p, "scope", c.scope) == Field::bad || read_int(p, "iat", c.iat) == Field::bad ||
        read_int(p, "rv", c.rv) == Field::bad) {
        return reject("malformed token claims");
    }
    std::int64_t nbf = 0;
    switch (read_int(p, "nbf", nbf)) {
        case Field::ok: c.nbf = nbf; break;
        case Field::bad: return reject("malformed token claims");
        case Field::absent: break;
    }
    if (auto it = p.find("roles"); it != p.end()) {
        if (!it->value().is_array()) return reject("malformed token claims");
        for (const auto& r : it->value().as_array()) {
            if (!r.is_string()) return reject("malformed token claims");
            c.roles.emplace_back(r.as_string().data(), r.as_string().size());
        }
    }
    return c;
}

}  // namespace

Result<std::string> sign(const Claims& claims, const crypto::RsaKey& key, std::string_view kid) {
    if (kid.empty()) return fail(Errc::invalid_argument, "a key id is required");
    if (claims.sub.empty()) return fail(Errc::invalid_argument, "claims need a subject");
    if (!key.has_private()) return fail(Errc::invalid_argument, "signing needs a private key");

    json::object header;
    header["alg"] = "RS256";
    header["typ"] = "JWT";
    header["kid"] = kid;

    json::object payload;
    payload["sub"] = claims.sub;
    payload["iss"] = claims.iss;
    json::array roles;
    roles.reserve(claims.roles.size());
    for (const auto& r : claims.roles) roles.emplace_back(r);
    payload["roles"] = std::move(roles);
    payload["iat"] = claims.iat;
    payload["exp"] = claims.exp;
    payload["jti"] = claims.jti;
    if (claims.nbf) payload["nbf"] = *claims.nbf;
    if (!claims.scope.empty()) payload["scope"] = claims.scope;
    if (claims.rv != 0) payload["rv"] = claims.rv;

    std::string input = crypto::base64url_encode(json::serialize(header));
    input += '.';
    input += crypto::base64url_encode(json::serialize(payload));
    auto sig = key.sign_rs256(input);
    if (!sig) return fail(sig.error());
    input += '.';
    input += crypto::base64url_encode(*sig);
    return input;
}

const crypto::RsaKey* KeySet::find(std::string_view kid) const {
    auto it = keys_.find(kid);
    return it == keys_.end() ? nullptr : &it->second;
}

Result<Claims> verify(std::string_view token, const KeySet& keys, std::chrono::system_clock::time_point now,
                      std::chrono::seconds skew) {
    if (token.size() > kMaxTokenSize) return reject("token too large");
    auto parts = split(token);
    if (!parts) return reject("malformed token");
    auto [header_part, payload_part, sig_part] = *parts;

    auto header = decode_object(header_part);
    if (!header) return reject("malformed token header");
    auto alg = header->find("alg");
    if (alg == header->end() || !alg->value().is_string() || alg->value().as_string() != "RS256") {
        return reject("unsupported token algorithm");
    }
    // No critical extensions are understood, so a token demanding one must be refused (RFC 7515 §4.1.11).
    if (header->contains("crit")) return reject("unsupported token header");
    if (auto typ = header->find("typ");
        typ != header->end() && (!typ->value().is_string() || typ->value().as_string() != "JWT")) {
        return reject("unsupported token type");
    }
    std::string kid;
    if (read_string(*header, "kid", kid) != Field::ok || kid.empty()) return reject("token has no key id");
    const crypto::RsaKey* key = keys.find(kid);
    if (key == nullptr) return reject("unknown token signing key");

    auto signature = crypto::base64url_decode(sig_part);
    if (!signature || signature->empty()) return reject("malformed token signature");
    std::string_view signing_input = token.substr(0, header_part.size() + 1 + payload_part.size());
    if (!key->verify_rs256(signing_input, *signature)) return reject("invalid token signature");

    // Only now, with the issuer authenticated, is the payload parsed.
    auto payload = decode_object(payload_part);
    if (!payload) return reject("malformed token payload");
    auto claims = claims_from(*payload);
    if (!claims) return claims;

    const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const std::int64_t skew_s = skew.count() < 0 ? 0 : skew.count();
    // Written as now - skew / now + skew so that huge claim values cannot overflow.
    if (claims->exp < now_s - skew_s) return reject("token expired");
    if (claims->nbf && *claims->nbf > now_s + skew_s) return reject("token not yet valid");
    if (claims->iat > now_s + skew_s) return reject("token issued in the future");
    return claims;
}

std::optional<std::string> peek_kid(std::string_view token) {
    auto parts = split(token);
    if (!parts) return std::nullopt;
    auto header = decode_object((*parts)[0]);
    if (!header) return std::nullopt;
    std::string kid;
    if (read_string(*header, "kid", kid) != Field::ok || kid.empty()) return std::nullopt;
    return kid;
}

json::value to_jwks(const KeySet& keys) {
    json::array arr;
    for (const auto& [kid, key] : keys.keys()) {
        auto n = key.jwk_n();
        auto e = key.jwk_e();
        if (n.empty() || e.empty()) continue;
        json::object k;
        k["kty"] = "RSA";
        k["e"] = e;
        k["kid"] = kid;
        k["n"] = n;
        k["alg"] = "RS256";
        k["use"] = "sig";
        arr.emplace_back(std::move(k));
    }
    json::object doc;
    doc["keys"] = std::move(arr);
    return doc;
}

Result<KeySet> from_jwks(const json::value& jwks) {
    const auto* doc = jwks.if_object();
    if (doc == nullptr) return fail(Errc::invalid_argument, "JWKS must be a JSON object");
    auto it = doc->find("keys");
    if (it == doc->end() || !it->value().is_array()) return fail(Errc::invalid_argument, "JWKS has no keys array");
    KeySet set;
    for (const auto& entry : it->value().as_array()) {
        const auto* k = entry.if_object();
        if (k == nullptr) return fail(Errc::invalid_argument, "JWKS key must be an object");
        std::string kty, use, alg;
        if (read_string(*k, "kty", kty) != Field::ok) return fail(Errc::invalid_argument, "JWKS key has no kty");
        // Keys of other types or for other purposes may share the document; they are not ours to use.
        if (kty != "RSA") continue;
        auto use_f = read_string(*k, "use", use);
        auto alg_f = read_string(*k, "alg", alg);
        if (use_f == Field::bad || alg_f == Field::bad) return fail(Errc::invalid_argument, "malformed JWKS key");
        if ((use_f == Field::ok && use != "sig") || (alg_f == Field::ok && alg != "RS256")) continue;
        std::string kid, n, e;
        if (read_string(*k, "kid", kid) != Field::ok || kid.empty() || read_string(*k, "n", n) != Field::ok ||
            read_string(*k, "e", e) != Field::ok) {
            return fail(Errc::invalid_argument, "JWKS RSA key needs kid, n and e");
        }
        if (set.find(kid) != nullptr) return fail(Errc::invalid_argument, "JWKS has a duplicate kid");
        auto key = crypto::RsaKey::from_jwk(n, e);
        if (!key) return fail(Errc::invalid_argument, "JWKS key " + kid + ": " + key.error().message);
        set.add(std::move(kid), std::move(*key));
    }
    return set;
}

}  // namespace lt::jwt
