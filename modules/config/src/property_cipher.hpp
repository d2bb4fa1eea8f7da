#pragma once
/// PropertyCipher: the `{cipher}` values of the config module. AES-256-GCM (lt::crypto::seal) under a key
/// derived with SHA-256 from a passphrase (the environment variable LEAKY_CONFIG_ENCRYPT_KEY).
/// Cipher text: base64 (RFC 4648, padded) of nonce (12 bytes) ‖ cipher ‖ tag (16 bytes).

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "lt/core/crypto.hpp"
#include "lt/core/result.hpp"

namespace lt::config_server {

/// Immutable after construction; any thread may call.
class PropertyCipher {
public:
    /// No key: encrypt and decrypt answer Errc::unavailable.
    PropertyCipher() = default;
    /// Derives the 256-bit key as SHA-256(passphrase). An empty passphrase means no key.
    explicit PropertyCipher(std::string_view passphrase);

    /// From LEAKY_CONFIG_ENCRYPT_KEY (start-up only: reads the environment).
    static PropertyCipher from_environment();

    bool configured() const { return key_.has_value(); }

    /// Encrypts with a fresh random nonce. Errc::unavailable without a key.
    Result<std::string> encrypt(std::string_view plain) const;

    /// Decrypts cipher text (an optional "{cipher}" prefix and surrounding whitespace are ignored).
    /// Errc::unavailable without a key; Errc::invalid_argument when it is not base64, too short, or
    /// fails authentication (tampered or another key).
    Result<std::string> decrypt(std::string_view cipher_text) const;

private:
    std::optional<crypto::AeadKey> key_;
};

/// The value prefix that marks an encrypted configuration value.
inline constexpr std::string_view kCipherPrefix = "{cipher}";

}  // namespace lt::config_server
