#include "property_cipher.hpp"

#include <cstdlib>
#include <memory>
#include <vector>

#include <openssl/evp.h>

#include "lt/core/crypto.hpp"
#include "lt/core/time.hpp"

namespace lt::config_server {

namespace {

std::string base64_encode(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0) return std::nullopt;
    for (char c : text) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
                  c == '=';
        if (!ok) return std::nullopt;
    }
    std::string out(3 * text.size() / 4, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    std::size_t len = static_cast<std::size_t>(n);
    // EVP_DecodeBlock counts padding as zero bytes.
    if (text.size() >= 1 && text[text.size() - 1] == '=') --len;
    if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
    out.resize(len);
    return out;
}

Error bad_cipher() { return Error{Errc::invalid_argument, "cannot decrypt: invalid cipher text"}; }
Error no_key() { return Error{Errc::unavailable, "encryption key not configured"}; }

}  // namespace

PropertyCipher::PropertyCipher(std::string_view passphrase) {
    if (passphrase.empty()) return;
    key_ = crypto::derive_key(passphrase);
}

PropertyCipher PropertyCipher::from_environment() {
    const char* env = std::getenv("LEAKY_CONFIG_ENCRYPT_KEY");
    return env ? PropertyCipher(env) : PropertyCipher();
}

Result<std::string> PropertyCipher::encrypt(std::string_view plain) const {
    if (!key_) return fail(no_key());
    auto sealed = crypto::seal(*key_, plain);
    if (!sealed) return fail(sealed.error());
    return base64_encode(*sealed);
}

Result<std::string> PropertyCipher::decrypt(std::string_view cipher_text) const {
    if (!key_) return fail(no_key());
    std::string text = trim(cipher_text);
    if (std::string_view(text).substr(0, kCipherPrefix.size()) == kCipherPrefix) text = trim(text.substr(kCipherPrefix.size()));
    auto raw = base64_decode(text);
    if (!raw) return fail(bad_cipher());
    auto plain = crypto::open(*key_, *raw);
    if (!plain) return fail(bad_cipher());
    return plain;
}

}  // namespace lt::config_server
