// AES-256-GCM sealing (lt::crypto::seal / open): the one implementation behind the config module's
// {cipher} values and the auth module's signing keys at rest.
#include <memory>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "lt/core/crypto.hpp"

namespace lt::crypto {

namespace {
constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
}  // namespace

AeadKey derive_key(std::string_view passphrase) {
    AeadKey key{};
    SHA256(reinterpret_cast<const unsigned char*>(passphrase.data()), passphrase.size(), key.data());
    return key;
}

Result<std::string> seal(const AeadKey& key, std::string_view plain, std::string_view aad) {
    std::string out(kNonce + plain.size() + kTag, '\0');
    auto* bytes = reinterpret_cast<unsigned char*>(out.data());
    if (RAND_bytes(bytes, static_cast<int>(kNonce)) != 1) return fail(Errc::internal, "no random bytes");
    CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    int len = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), bytes) != 1 ||
        (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                                           static_cast<int>(aad.size())) != 1) ||
        EVP_EncryptUpdate(ctx.get(), bytes + kNonce, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                          static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), bytes + kNonce + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTag), bytes + kNonce + plain.size()) !=
            1) {
        return fail(Errc::internal, "encryption failed");
    }
    return out;
}

Result<std::string> open(const AeadKey& key, std::string_view sealed, std::string_view aad) {
    if (sealed.size() < kNonce + kTag) return fail(Errc::invalid_argument, "cannot decrypt: invalid cipher text");
    const auto* bytes = reinterpret_cast<const unsigned char*>(sealed.data());
    const std::size_t n = sealed.size() - kNonce - kTag;
    std::string plain(n, '\0');
    CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    int len = 0;
    std::array<unsigned char, kTag> tag{};
    std::copy(bytes + kNonce + n, bytes + kNonce + n + kTag, tag.begin());
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), bytes) != 1 ||
        (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                                           static_cast<int>(aad.size())) != 1) ||
        EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, bytes + kNonce,
                          static_cast<int>(n)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTag), tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) != 1) {
        return fail(Errc::invalid_argument, "cannot decrypt: invalid cipher text");
    }
    return plain;
}

}  // namespace lt::crypto
