#include "lt/core/time.hpp"

#include <openssl/rand.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <random>

namespace lt {

std::string format_rfc3339(std::chrono::system_clock::time_point tp) {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(tp.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int millis = static_cast<int>(ms - static_cast<long long>(secs) * 1000);
    // Hot path (every outbox row, every error body): the civil date without gmtime_r and snprintf
    // (days → year/month/day, H. Hinnant's algorithm); years outside 0..9999 take the slow path.
    const long long days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    const long long sod = secs - days * 86400;
    const long long z = days + 719468;
    const long long era = (z >= 0 ? z : z - 146096) / 146097;
    const long long doe = z - era * 146097;
    const long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const long long mp = (5 * doy + 2) / 153;
    const long long day = doy - (153 * mp + 2) / 5 + 1;
    const long long month = mp < 10 ? mp + 3 : mp - 9;
    const long long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    if (year >= 0 && year <= 9999) {
        char buf[24];
        auto put = [&buf](int at, long long v, int width) {
            for (int i = width - 1; i >= 0; --i) {
                buf[at + i] = static_cast<char>('0' + v % 10);
                v /= 10;
            }
        };
        put(0, year, 4);
        buf[4] = '-';
        put(5, month, 2);
        buf[7] = '-';
        put(8, day, 2);
        buf[10] = 'T';
        put(11, sod / 3600, 2);
        buf[13] = ':';
        put(14, sod / 60 % 60, 2);
        buf[16] = ':';
        put(17, sod % 60, 2);
        buf[19] = '.';
        put(20, millis, 3);
        buf[23] = 'Z';
        return std::string(buf, 24);
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buf;
}

namespace {
bool read_int(std::string_view s, std::size_t& pos, std::size_t digits, int& out) {
    if (pos + digits > s.size()) return false;
    int v = 0;
    for (std::size_t i = 0; i < digits; ++i) {
        char c = s[pos + i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    pos += digits;
    out = v;
    return true;
}
bool expect(std::string_view s, std::size_t& pos, char c) {
    if (pos >= s.size() || s[pos] != c) return false;
    ++pos;
    return true;
}
}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
    std::size_t pos = 0;
    int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
    if (!read_int(s, pos, 4, year) || !expect(s, pos, '-') || !read_int(s, pos, 2, mon) || !expect(s, pos, '-') ||
        !read_int(s, pos, 2, day))
        return std::nullopt;
    if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return std::nullopt;
    ++pos;
    if (!read_int(s, pos, 2, hour) || !expect(s, pos, ':') || !read_int(s, pos, 2, min) || !expect(s, pos, ':') ||
        !read_int(s, pos, 2, sec))
        return std::nullopt;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return std::nullopt;
    long long nanos = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int digits = 0;
        while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
            if (digits < 9) nanos = nanos * 10 + (s[pos] - '0');
            ++digits;
            ++pos;
        }
        if (digits == 0 || digits > 9) return std::nullopt;
        for (int i = digits; i < 9; ++i) nanos *= 10;
    }
    long long offset_sec = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int sign = s[pos] == '-' ? -1 : 1;
        ++pos;
        int oh = 0, om = 0;
        if (!read_int(s, pos, 2, oh) || !expect(s, pos, ':') || !read_int(s, pos, 2, om)) return std::nullopt;
        offset_sec = sign * (oh * 3600LL + om * 60LL);
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    std::time_t t = timegm(&tm);
    using namespace std::chrono;
    return system_clock::time_point(duration_cast<system_clock::duration>(seconds(t - offset_sec) + nanoseconds(nanos)));
}

std::string new_uuid() {
    // Identifiers need uniqueness, not secrecy (secrets use RAND_bytes directly): a per-thread
    // generator seeded once from the CSPRNG keeps this off OpenSSL's locks on the request path.
    thread_local std::mt19937_64 rng = [] {
        std::uint64_t seed[4] = {};
        if (RAND_bytes(reinterpret_cast<unsigned char*>(seed), sizeof seed) != 1) {
            std::random_device rd;
            for (auto& s : seed) s = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
        }
        std::seed_seq seq{seed[0], seed[1], seed[2], seed[3]};
        return std::mt19937_64(seq);
    }();
    unsigned char b[16];
    std::uint64_t hi = rng(), lo = rng();
    for (int i = 0; i < 8; ++i) {
        b[i] = static_cast<unsigned char>(hi >> (i * 8));
        b[8 + i] = static_cast<unsigned char>(lo >> (i * 8));
    }
    b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(kHex[b[i] >> 4]);
        out.push_back(kHex[b[i] & 0xF]);
    }
    return out;
}

bool is_uuid(std::string_view t) {
    if (t.size() != 36) return false;
    for (std::size_t i = 0; i < 36; ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (t[i] != '-') return false;
        } else if (!std::isxdigit(static_cast<unsigned char>(t[i]))) {
            return false;
        }
    }
    return true;
}

std::optional<std::string> normalize_uuid(std::string_view t) {
    if (!is_uuid(t)) return std::nullopt;
    return to_lower(t);
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    std::string s = trim(text);
    if (s.empty()) return std::nullopt;
    std::size_t i = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == 0) return std::nullopt;
    long long n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + i, n);
    if (ec != std::errc() || p != s.data() + i) return std::nullopt;
    std::string_view unit(s.data() + i, s.size() - i);
    long long mult;
    if (unit.empty() || unit == "s") mult = 1000;
    else if (unit == "ms") mult = 1;
    else if (unit == "m") mult = 60'000;
    else if (unit == "h") mult = 3'600'000;
    else if (unit == "d") mult = 86'400'000;
    else return std::nullopt;
    if (n > (1LL << 62) / mult) return std::nullopt;
    return std::chrono::milliseconds(n * mult);
}

std::string to_lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string trim(std::string_view text) {
    std::size_t b = 0, e = text.size();
    while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
    return std::string(text.substr(b, e - b));
}

bool constant_time_equals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace lt

namespace lt {
std::string to_upper(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}
}  // namespace lt
