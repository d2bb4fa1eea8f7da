#include "username.hpp"

#include <memory>
#include <vector>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

namespace lt::auth {

namespace {

/// UTF-8 → UTF-16; nullopt when not valid UTF-8.
std::optional<std::u16string> to_utf16(std::string_view text) {
    std::u16string out(text.size() + 1, u'\0');
    int32_t len = 0;
    UErrorCode status = U_ZERO_ERROR;
    u_strFromUTF8WithSub(reinterpret_cast<UChar*>(out.data()), static_cast<int32_t>(out.size()), &len, text.data(),
                         static_cast<int32_t>(text.size()), U_SENTINEL /* error on invalid input */, nullptr,
                         &status);
    if (U_FAILURE(status)) return std::nullopt;
    out.resize(static_cast<std::size_t>(len));
    return out;
}

std::string to_utf8(const std::u16string& text) {
    std::string out(text.size() * 3 + 1, '\0');
    int32_t len = 0;
    UErrorCode status = U_ZERO_ERROR;
    u_strToUTF8(out.data(), static_cast<int32_t>(out.size()), &len, reinterpret_cast<const UChar*>(text.data()),
                static_cast<int32_t>(text.size()), &status);
    if (U_FAILURE(status)) return {};
    out.resize(static_cast<std::size_t>(len));
    return out;
}

std::optional<std::u16string> nfkc_casefold(const std::u16string& in) {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2* norm = unorm2_getNFKCCasefoldInstance(&status);
    if (U_FAILURE(status)) return std::nullopt;
    std::u16string out(in.size() * 4 + 16, u'\0');
    const int32_t len = unorm2_normalize(norm, reinterpret_cast<const UChar*>(in.data()), static_cast<int32_t>(in.size()),
                                         reinterpret_cast<UChar*>(out.data()), static_cast<int32_t>(out.size()), &status);
    if (U_FAILURE(status)) return std::nullopt;
    out.resize(static_cast<std::size_t>(len));
    return out;
}

struct SpoofClose {
    void operator()(USpoofChecker* c) const noexcept { uspoof_close(c); }
};

std::optional<std::u16string> skeleton(const std::u16string& in) {
    // One checker per thread: uspoof_getSkeleton on a shared checker is thread-safe per ICU, but
    // opening costs little and keeps this free of global state.
    thread_local std::unique_ptr<USpoofChecker, SpoofClose> checker = [] {
        UErrorCode status = U_ZERO_ERROR;
        std::unique_ptr<USpoofChecker, SpoofClose> c(uspoof_open(&status));
        if (U_FAILURE(status)) c.reset();
        return c;
    }();
    if (!checker) return std::nullopt;
    UErrorCode status = U_ZERO_ERROR;
    std::u16string out(in.size() * 4 + 16, u'\0');
    const int32_t len = uspoof_getSkeleton(checker.get(), 0, reinterpret_cast<const UChar*>(in.data()),
                                           static_cast<int32_t>(in.size()), reinterpret_cast<UChar*>(out.data()),
                                           static_cast<int32_t>(out.size()), &status);
    if (U_FAILURE(status)) return std::nullopt;
    out.resize(static_cast<std::size_t>(len));
    return out;
}

}  // namespace

std::optional<std::string> username_problem(std::string_view username) {
    const auto* p = reinterpret_cast<const uint8_t*>(username.data());
    const auto n = static_cast<int32_t>(username.size());
    int32_t i = 0;
    while (i < n) {
        UChar32 c = 0;
        U8_NEXT(p, i, n, c);
        if (c < 0) return "username must be valid UTF-8";
        switch (u_charType(c)) {
            case U_CONTROL_CHAR: return "username must not contain control characters";
            case U_FORMAT_CHAR: return "username must not contain invisible or direction-changing characters";
            case U_SPACE_SEPARATOR:
                if (c != 0x20) return "username must not contain special spaces";
                break;
            case U_LINE_SEPARATOR:
            case U_PARAGRAPH_SEPARATOR: return "username must not contain line separators";
            case U_PRIVATE_USE_CHAR:
            case U_SURROGATE:
            case U_UNASSIGNED: return "username must not contain unassigned or private-use characters";
            default: break;
        }
        // Default-ignorable code points that are not format characters (e.g. U+115F, U+3164 fillers,
        // variation selectors) are invisible as well.
        if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
            return "username must not contain invisible or direction-changing characters";
        }
    }
    return std::nullopt;
}

std::string username_key(std::string_view username) {
    auto utf16 = to_utf16(username);
    if (!utf16) return std::string(username);
    auto folded = nfkc_casefold(*utf16);
    if (!folded) return std::string(username);
    auto skel = skeleton(*folded);
    if (!skel) return to_utf8(*folded);
    // The skeleton may map to upper-case prototypes ("0" → "O"): fold once more for a stable key.
    auto again = nfkc_casefold(*skel);
    return to_utf8(again ? *again : *skel);
}

}  // namespace lt::auth
