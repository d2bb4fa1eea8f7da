#include "lt/core/crypto.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

namespace lt::crypto {

struct RsaKey::Impl {
    struct PkeyFree {
        void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
    };
    std::unique_ptr<EVP_PKEY, PkeyFree> pkey;
};

namespace {

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;

struct BioFree {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct BnFree {
    void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
struct ParamBldFree {
    void operator()(OSSL_PARAM_BLD* b) const noexcept { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamFree>;

constexpr char kHex[] = "0123456789abcdef";
constexpr char kB64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// OpenSSL keeps a per-thread error queue; drop what a failed call left there so it cannot leak
/// into an unrelated later check on the same thread.
void clear_errors() { ERR_clear_error(); }

std::string to_hex(const unsigned char* p, std::size_t n) {
    std::string out;
    out.resize(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kHex[p[i] >> 4];
        out[2 * i + 1] = kHex[p[i] & 0x0f];
    }
    return out;
}

/// SHA-256 fetched once (OpenSSL 3 implicit fetching per operation is comparatively slow).
const EVP_MD* sha256_md() {
    static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md != nullptr ? md : EVP_sha256();
}

/// Never prompts for a passphrase on the terminal: encrypted PEM keys simply fail to load.
int no_passphrase(char*, int, int, void*) { return 0; }

BioPtr read_bio(std::string_view pem) {
    if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return nullptr;
    return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string drain_bio(BIO* bio) {
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio, &mem);
    if (mem == nullptr || mem->data == nullptr) return {};
    return std::string(mem->data, mem->length);
}

/// Only RSA keys of a sane size are accepted (anything below 2048 bits is considered broken).
Result<void> check_rsa(const EVP_PKEY* pkey) {
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) return fail(Errc::invalid_argument, "not an RSA key");
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
        return fail(Errc::invalid_argument, "RSA key size must be between 2048 and 16384 bits");
    }
    return ok();
}

std::string bn_param_b64(const EVP_PKEY* pkey, const char* name) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1 || raw == nullptr) {
        clear_errors();
        return {};
    }
    BnPtr bn(raw);
    std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn.get())), '\0');
    BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()));
    return base64url_encode(bytes);
}

}  // namespace

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, sha256_md(), nullptr) != 1) {
        // Only possible on a broken OpenSSL installation; a wrong digest would be worse than none.
        std::abort();
    }
    return to_hex(md, len);
}

std::string random_hex(std::size_t bytes) {
    std::string raw(bytes, '\0');
    std::size_t done = 0;
    while (done < bytes) {
        std::size_t chunk = std::min<std::size_t>(bytes - done, 1u << 20);
        if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data() + done), static_cast<int>(chunk)) != 1) {
            // No entropy: handing out predictable ids or secrets is never acceptable.
            std::abort();
        }
        done += chunk;
    }
    std::string out = to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
    OPENSSL_cleanse(raw.data(), raw.size());
    return out;
}

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
        out += kB64Alphabet[(v >> 18) & 63];
        out += kB64Alphabet[(v >> 12) & 63];
        out += kB64Alphabet[(v >> 6) & 63];
        out += kB64Alphabet[v & 63];
    }
    std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        std::uint32_t v = std::uint32_t{p[i]} << 16;
        out += kB64Alphabet[(v >> 18) & 63];
        out += kB64Alphabet[(v >> 12) & 63];
    } else if (rest == 2) {
        std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
        out += kB64Alphabet[(v >> 18) & 63];
        out += kB64Alphabet[(v >> 12) & 63];
        out += kB64Alphabet[(v >> 6) & 63];
    }
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    auto value_of = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '-') return 62;
        if (c == '_') return 63;
        return -1;
    };
    if (text.size() % 4 == 1) return std::nullopt;  // no byte count encodes to 4k+1 characters
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v = value_of(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    // Canonical form only: the unused low bits of the last character must be zero.
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

Result<RsaKey> RsaKey::generate(int bits) {
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
        return fail(Errc::invalid_argument, "RSA key size must be between 2048 and 16384 bits");
    }
    EVP_PKEY* raw = EVP_RSA_gen(static_cast<unsigned int>(bits));
    if (raw == nullptr) {
        clear_errors();
        return fail(Errc::internal, "RSA key generation failed");
    }
    RsaKey key;
    key.impl_ = std::make_shared<Impl>();
    key.impl_->pkey.reset(raw);
    key.has_private_ = true;
    return key;
}

Result<RsaKey> RsaKey::from_private_pem(std::string_view pem) {
    auto bio = read_bio(pem);
    if (!bio) return fail(Errc::invalid_argument, "invalid private key PEM");
    EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, &no_passphrase, nullptr);
    if (raw == nullptr) {
        clear_errors();
        return fail(Errc::invalid_argument, "invalid private key PEM");
    }
    RsaKey key;
    key.impl_ = std::make_shared<Impl>();
    key.impl_->pkey.reset(raw);
    if (auto r = check_rsa(raw); !r) return fail(r.error());
    key.has_private_ = true;
    return key;
}

Result<RsaKey> RsaKey::from_public_pem(std::string_view pem) {
    auto bio = read_bio(pem);
    if (!bio) return fail(Errc::invalid_argument, "invalid public key PEM");
    EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, &no_passphrase, nullptr);
    if (raw == nullptr) {
        clear_errors();
        return fail(Errc::invalid_argument, "invalid public key PEM");
    }
    RsaKey key;
    key.impl_ = std::make_shared<Impl>();
    key.impl_->pkey.reset(raw);
    if (auto r = check_rsa(raw); !r) return fail(r.error());
    return key;
}

Result<RsaKey> RsaKey::from_jwk(std::string_view n, std::string_view e) {
    auto n_bytes = base64url_decode(n);
    auto e_bytes = base64url_decode(e);
    if (!n_bytes || !e_bytes || n_bytes->empty() || e_bytes->empty() || e_bytes->size() > 8 ||
        n_bytes->size() > static_cast<std::size_t>(kMaxRsaBits / 8 + 1)) {
        return fail(Errc::invalid_argument, "invalid RSA JWK members n/e");
    }
    BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n_bytes->data()), static_cast<int>(n_bytes->size()),
                         nullptr));
    BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e_bytes->data()), static_cast<int>(e_bytes->size()),
                         nullptr));
    if (!bn_n || !bn_e) {
        clear_errors();
        return fail(Errc::internal, "out of memory");
    }
    // e must be an odd integer >= 3; n must be odd (a product of two odd primes).
    if (!BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get()) || !BN_is_odd(bn_n.get()) ||
        BN_num_bits(bn_n.get()) < kMinRsaBits || BN_num_bits(bn_n.get()) > kMaxRsaBits) {
        return fail(Errc::invalid_argument, "invalid RSA JWK members n/e");
    }
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
        clear_errors();
        return fail(Errc::internal, "cannot build RSA parameters");
    }
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || raw == nullptr) {
        clear_errors();
        return fail(Errc::invalid_argument, "invalid RSA JWK members n/e");
    }
    RsaKey key;
    key.impl_ = std::make_shared<Impl>();
    key.impl_->pkey.reset(raw);
    if (auto r = check_rsa(raw); !r) return fail(r.error());
    return key;
}

std::string RsaKey::private_pem() const {
    if (!impl_ || !has_private_) return {};
    // Secure-heap BIO so the plaintext key material is wiped when the BIO is freed.
    BioPtr bio(BIO_new(BIO_s_secmem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        clear_errors();
        return {};
    }
    return drain_bio(bio.get());
}

std::string RsaKey::public_pem() const {
    if (!impl_) return {};
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), impl_->pkey.get()) != 1) {
        clear_errors();
        return {};
    }
    return drain_bio(bio.get());
}

std::string RsaKey::jwk_n() const { return impl_ ? bn_param_b64(impl_->pkey.get(), OSSL_PKEY_PARAM_RSA_N) : ""; }

std::string RsaKey::jwk_e() const { return impl_ ? bn_param_b64(impl_->pkey.get(), OSSL_PKEY_PARAM_RSA_E) : ""; }

Result<std::string> RsaKey::sign_rs256(std::string_view data) const {
    if (!impl_ || !has_private_) return fail(Errc::invalid_argument, "signing needs a private key");
    MdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, sha256_md(), nullptr, impl_->pkey.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
        clear_errors();
        return fail(Errc::internal, "RS256 signing failed");
    }
    std::size_t len = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    if (EVP_DigestSign(ctx.get(), nullptr, &len, p, data.size()) != 1) {
        clear_errors();
        return fail(Errc::internal, "RS256 signing failed");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, p, data.size()) != 1) {
        clear_errors();
        return fail(Errc::internal, "RS256 signing failed");
    }
    sig.resize(len);
    return sig;
}

bool RsaKey::verify_rs256(std::string_view data, std::string_view signature) const {
    if (!impl_) return false;
    // An RS256 signature is exactly the modulus size; anything else cannot be valid.
    if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(impl_->pkey.get()))) return false;
    MdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, sha256_md(), nullptr, impl_->pkey.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
        clear_errors();
        return false;
    }
    int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                              reinterpret_cast<const unsigned char*>(data.data()), data.size());
    if (rc != 1) clear_errors();
    return rc == 1;
}

}  // namespace lt::crypto
