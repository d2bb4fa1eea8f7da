#include "password.hpp"

#include <crypt.h>

#include <cstring>
#include <memory>

#include "lt/core/time.hpp"

namespace lt::auth {

namespace {

/// bcrypt of a random throw-away password at cost 10.
constexpr std::string_view kDummyHash = "$2b$10$WW.lsdmYUXS8/MIXEmtiHeRbJ737K9B7qF/bycidBsdJtTNKslxdK";

bool usable(std::string_view password) {
    return password.size() <= kMaxPasswordBytes && password.find('\0') == std::string_view::npos;
}

/// crypt_rn over `password` with `setting` (a salt or a full hash); empty on failure.
std::string run_crypt(std::string_view password, std::string_view setting) {
    // struct crypt_data is ~32 KiB: keep it off the (small) stack of pool threads.
    auto data = std::make_unique<crypt_data>();
    std::memset(data.get(), 0, sizeof(crypt_data));
    const std::string phrase(password);
    const std::string salt(setting);
    const char* out = crypt_rn(phrase.c_str(), salt.c_str(), data.get(), sizeof(crypt_data));
    std::string result;
    // libxcrypt signals failure with NULL or a string starting with '*'.
    if (out != nullptr && out[0] != '*') result = out;
    std::memset(data.get(), 0, sizeof(crypt_data));
    return result;
}

}  // namespace

Result<std::string> hash_password(std::string_view password) {
    if (password.size() > kMaxPasswordBytes) return fail(Errc::invalid_argument, "password too long");
    if (!usable(password)) return fail(Errc::invalid_argument, "password contains a NUL byte");
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn("$2b$", kBcryptCost, nullptr, 0, salt, sizeof(salt)) == nullptr) {
        return fail(Errc::internal, "cannot generate a bcrypt salt");
    }
    auto hash = run_crypt(password, salt);
    if (hash.empty()) return fail(Errc::internal, "bcrypt failed");
    return hash;
}

bool verify_password(std::string_view password, std::string_view hash) {
    if (!looks_like_bcrypt(hash)) return verify_dummy(password);
    if (!usable(password)) return verify_dummy({});
    auto computed = run_crypt(password, hash);
    return !computed.empty() && constant_time_equals(computed, hash);
}

bool verify_dummy(std::string_view password) {
    (void)run_crypt(usable(password) ? password : std::string_view{}, kDummyHash);
    return false;
}

bool looks_like_bcrypt(std::string_view hash) {
    if (hash.size() != 60 || hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$') return false;
    if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return false;
    for (std::size_t i = 7; i < hash.size(); ++i) {
        const char c = hash[i];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '/';
        if (!ok) return false;
    }
    return hash[4] >= '0' && hash[4] <= '3' && hash[5] >= '0' && hash[5] <= '9';
}

}  // namespace lt::auth
