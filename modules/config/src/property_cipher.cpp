#include "property_cipher.hpp"

#include <cstdlib>
#include <memory>
#include <vector>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "lt/core/time.hpp"

namespace lt::config_server {

namespace {

constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

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
    std::array<unsigned char, 32> key{};
    SHA256(reinterpret_cast<const unsigned char*>(passphrase.data()), passphrase.size(), key.data());
    key_ = key;
}

PropertyCipher PropertyCipher::from_environment() {
    const char* env = std::getenv("LEAKY_CONFIG_ENCRYPT_KEY");
    return env ? PropertyCipher(env) : PropertyCipher();
}

Result<std::string> PropertyCipher::encrypt(std::string_view plain) const {
    if (!key_) return fail(no_key());
    std::string out(kNonce + plain.size() + kTag, '\0');
    auto* bytes = reinterpret_cast<unsigned char*>(out.data());
    if (RAND_bytes(bytes, static_cast<int>(kNonce)) != 1) return fail(Errc::internal, "no random bytes");
    CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    int len = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_->data(), bytes) != 1 ||
        EVP_EncryptUpdate(ctx.get(), bytes + kNonce, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                          static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), bytes + kNonce + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTag), bytes + kNonce + plain.size()) !=
            1) {
        return fail(Errc::internal, "encryption failed");
    }
    return base64_encode(out);
}

Result<std::string> PropertyCipher::decrypt(std::string_view cipher_text) const {
    if (!key_) return fail(no_key());
    std::string text = trim(cipher_text);
    if (std::string_view(text).substr(0, kCipherPrefix.size()) == kCipherPrefix) text = trim(text.substr(kCipherPrefix.size()));
    auto raw = base64_decode(text);
    if (!raw || raw->size() < kNonce + kTag) return fail(bad_cipher());
    const auto* bytes = reinterpret_cast<const unsigned char*>(raw->data());
    const std::size_t n = raw->size() - kNonce - kTag;
    std::string plain(n, '\0');
    CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    int len = 0;
    std::array<unsigned char, kTag> tag{};
    std::copy(bytes + kNonce + n, bytes + kNonce + n + kTag, tag.begin());
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_->data(), bytes) != 1 ||
        EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, bytes + kNonce,
                          static_cast<int>(n)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTag), tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) != 1) {
        return fail(bad_cipher());
    }
    return plain;
}

}  // namespace lt::config_server
