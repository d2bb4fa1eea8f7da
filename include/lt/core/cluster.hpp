#pragma once
/// Split mode's kernel seams (CONTRACT 32–34): where the other modules' instances are (Directory) and
/// how calls between processes are authenticated with `cluster.secret` (sign / verify).
///
/// Wire form of an authenticated call between processes (every internal endpoint, every request the
/// gateway proxies to another process, every registry write):
///   X-Lt-Cluster-Time:      unix seconds when signed (accepted within ±kClusterSkew of now)
///   X-Lt-Principal:         base64url(JSON of bus::Principal) or absent (no principal)
///   X-Lt-Cluster-Signature: hex HMAC-SHA256(secret, METHOD "\n" TARGET "\n" TIME "\n" PRINCIPAL "\n"
///                           REQUEST-ID "\n" BODY-SHA256)
/// where TARGET is path + "?" + query as sent, PRINCIPAL the X-Lt-Principal value (empty when absent),
/// REQUEST-ID the X-Request-Id value (empty when absent), BODY-SHA256 the hex SHA-256 of the body, or
/// "-" for a streamed body the signer could not hash (the X-Lt-Body-Sha256 header then is absent; when
/// present it must equal the body's hash). Comparison is constant-time.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lt/bus/bus.hpp"
#include "lt/core/result.hpp"

namespace lt::cluster {

inline constexpr std::string_view kTimeHeader = "X-Lt-Cluster-Time";
inline constexpr std::string_view kPrincipalHeader = "X-Lt-Principal";
inline constexpr std::string_view kSignatureHeader = "X-Lt-Cluster-Signature";
inline constexpr std::string_view kBodyHashHeader = "X-Lt-Body-Sha256";
inline constexpr std::chrono::seconds kClusterSkew{60};

/// One registered instance of a module.
struct Instance {
    std::string module;       ///< module name, lower-case ("token")
    std::string instance_id;  ///< unique per process and module ("host:port:token")
    std::string url;          ///< base URL, e.g. "http://127.0.0.1:8081" (no trailing slash)
    bool up = true;           ///< status UP in the registry
};

/// Where modules hosted by other processes run. Thread-safe; any thread.
class Directory {
public:
    virtual ~Directory() = default;
    /// The UP instances of `module` known now (the last table fetched; kept while the registry is
    /// unreachable). Empty when none.
    virtual std::vector<Instance> instances(std::string_view module) const = 0;
    /// Every UP instance of every module (for broadcasts).
    virtual std::vector<Instance> all() const = 0;
};

/// Headers to add to an outgoing call (name, value), signed with `secret`.
/// `body_sha256` = sha256_hex(body), or nullopt for a streamed body.
std::vector<std::pair<std::string, std::string>> sign(std::string_view secret, std::string_view method,
                                                      std::string_view target,
                                                      const std::optional<bus::Principal>& principal,
                                                      std::string_view request_id,
                                                      std::optional<std::string> body_sha256,
                                                      std::chrono::system_clock::time_point now);

/// What a verified call carries.
struct Verified {
    std::optional<bus::Principal> principal;
};

/// Verifies a call's headers (looked up case-insensitively through `header`) against `secret`.
/// Errc::unauthenticated with a reason when the signature is missing, stale or wrong, or when the
/// body does not match X-Lt-Body-Sha256.
template <class HeaderFn>
Result<Verified> verify(std::string_view secret, std::string_view method, std::string_view target,
                        HeaderFn header, std::string_view body, std::chrono::system_clock::time_point now);

/// Non-template core of verify().
Result<Verified> verify_fields(std::string_view secret, std::string_view method, std::string_view target,
                               std::string_view time, std::string_view principal, std::string_view request_id,
                               std::string_view signature, std::string_view body_hash_header, std::string_view body,
                               std::chrono::system_clock::time_point now);

template <class HeaderFn>
Result<Verified> verify(std::string_view secret, std::string_view method, std::string_view target, HeaderFn header,
                        std::string_view body, std::chrono::system_clock::time_point now) {
    return verify_fields(secret, method, target, header(kTimeHeader), header(kPrincipalHeader),
                         header("X-Request-Id"), header(kSignatureHeader), header(kBodyHashHeader), body, now);
}

}  // namespace lt::cluster
