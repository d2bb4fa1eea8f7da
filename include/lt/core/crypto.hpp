#pragma once
/// Cryptographic helpers over OpenSSL: SHA-256, CSPRNG bytes, base64url, RSA keys with RS256.
/// Shared by the auth module (signing) and the gateway (verification).

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lt/core/result.hpp"

namespace lt::crypto {

/// SHA-256 digest, lower-case hex (64 characters).
std::string sha256_hex(std::string_view data);
/// `bytes` bytes from OpenSSL's CSPRNG as lower-case hex (2×bytes characters).
std::string random_hex(std::size_t bytes);
/// base64url without padding (RFC 7515 §2).
std::string base64url_encode(std::string_view bytes);
/// Inverse of base64url_encode; nullopt on characters outside the alphabet or padding.
std::optional<std::string> base64url_decode(std::string_view text);

/// A 256-bit AES key.
using AeadKey = std::array<unsigned char, 32>;
/// The key SHA-256(passphrase) (the config module's LEAKY_CONFIG_ENCRYPT_KEY and the auth module's
/// auth.jwt.key-encryption-key are passphrases). Any thread.
AeadKey derive_key(std::string_view passphrase);
/// AES-256-GCM with a fresh random 96-bit nonce; raw bytes nonce (12) ‖ cipher ‖ tag (16). `aad` is
/// authenticated, not stored (e.g. the row id the text belongs to). Any thread.
Result<std::string> seal(const AeadKey& key, std::string_view plain, std::string_view aad = {});
/// Inverse of seal: Errc::invalid_argument when too short or not authentic (tampered, other key or
/// other `aad`). Any thread.
Result<std::string> open(const AeadKey& key, std::string_view sealed, std::string_view aad = {});

/// An RSA key (private or public only). Copies share the underlying key; immutable after creation,
/// so any thread may use it.
class RsaKey {
public:
    /// A fresh key pair (2048 bits by default). Takes ~50-200 ms: call on the blocking pool.
    static Result<RsaKey> generate(int bits = 2048);
    static Result<RsaKey> from_private_pem(std::string_view pem);
    static Result<RsaKey> from_public_pem(std::string_view pem);
    /// From the JWK members `n` and `e` (base64url big-endian integers).
    static Result<RsaKey> from_jwk(std::string_view n, std::string_view e);

    bool has_private() const { return has_private_; }
    /// PKCS#8 PEM of the private key (empty when public only).
    std::string private_pem() const;
    /// SubjectPublicKeyInfo PEM.
    std::string public_pem() const;
    /// JWK members (base64url).
    std::string jwk_n() const;
    std::string jwk_e() const;

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `data`; raw signature bytes. Needs the private key.
    Result<std::string> sign_rs256(std::string_view data) const;
    /// True when `signature` is a valid RS256 signature of `data` by this key.
    bool verify_rs256(std::string_view data, std::string_view signature) const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
    bool has_private_ = false;
};

}  // namespace lt::crypto
