#include "lt/core/cluster.hpp"

#include <cstring>

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lt/core/crypto.hpp"

namespace lt::cluster {

namespace {

std::string hmac_hex(std::string_view secret, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        hex.push_back(kHex[out[i] >> 4]);
        hex.push_back(kHex[out[i] & 0xf]);
    }
    return hex;
}

std::string canonical(std::string_view method, std::string_view target, std::string_view time,
                      std::string_view principal, std::string_view request_id, std::string_view body_hash) {
    std::string s;
    s.reserve(method.size() + target.size() + time.size() + principal.size() + request_id.size() + body_hash.size() + 5);
    s.append(method).push_back('\n');
    s.append(target).push_back('\n');
    s.append(time).push_back('\n');
    s.append(principal).push_back('\n');
    s.append(request_id).push_back('\n');
    s.append(body_hash);
    return s;
}

bool equal_ct(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Error unauthenticated(std::string reason) { return Error{Errc::unauthenticated, std::move(reason)}; }

}  // namespace

std::vector<std::pair<std::string, std::string>> sign(std::string_view secret, std::string_view method,
                                                      std::string_view target,
                                                      const std::optional<bus::Principal>& principal,
                                                      std::string_view request_id,
                                                      std::optional<std::string> body_sha256,
                                                      std::chrono::system_clock::time_point now) {
    std::vector<std::pair<std::string, std::string>> headers;
    const auto time =
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
    std::string principal_value;
    if (principal) {
        principal_value = crypto::base64url_encode(boost::json::serialize(bus::to_json(*principal)));
        headers.emplace_back(kPrincipalHeader, principal_value);
    }
    std::string body_hash = "-";
    if (body_sha256) {
        body_hash = *body_sha256;
        headers.emplace_back(kBodyHashHeader, body_hash);
    }
    headers.emplace_back(kTimeHeader, time);
    headers.emplace_back(kSignatureHeader,
                         hmac_hex(secret, canonical(method, target, time, principal_value, request_id, body_hash)));
    return headers;
}

Result<Verified> verify_fields(std::string_view secret, std::string_view method, std::string_view target,
                               std::string_view time, std::string_view principal, std::string_view request_id,
                               std::string_view signature, std::string_view body_hash_header, std::string_view body,
                               std::chrono::system_clock::time_point now) {
    if (secret.empty()) return fail(unauthenticated("cluster secret not configured"));
    if (signature.empty() || time.empty()) return fail(unauthenticated("cluster signature required"));
    std::int64_t signed_at = 0;
    for (char c : time) {
        if (c < '0' || c > '9' || signed_at > (std::int64_t{1} << 40)) return fail(unauthenticated("bad cluster time"));
        signed_at = signed_at * 10 + (c - '0');
    }
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (signed_at < now_s - kClusterSkew.count() || signed_at > now_s + kClusterSkew.count()) {
        return fail(unauthenticated("stale cluster signature"));
    }
    std::string body_hash = "-";
    if (!body_hash_header.empty()) {
        body_hash = std::string(body_hash_header);
        if (!equal_ct(body_hash, crypto::sha256_hex(body))) return fail(unauthenticated("body hash mismatch"));
    }
    const auto expected = hmac_hex(secret, canonical(method, target, time, principal, request_id, body_hash));
    if (!equal_ct(expected, signature)) return fail(unauthenticated("bad cluster signature"));
    Verified v;
    if (!principal.empty()) {
        auto raw = crypto::base64url_decode(principal);
        if (!raw) return fail(unauthenticated("bad principal encoding"));
        boost::system::error_code ec;
        auto value = boost::json::parse(*raw, ec);
        if (ec) return fail(unauthenticated("bad principal"));
        auto p = bus::principal_from_json(value);
        if (!p) return fail(unauthenticated("bad principal"));
        v.principal = std::move(*p);
    }
    return v;
}

}  // namespace lt::cluster
