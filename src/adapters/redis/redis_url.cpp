#include "redis_url.hpp"

#include <charconv>

namespace lt::adapters::redis {

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

Result<std::string> percent_decode(std::string_view text, std::string_view what) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        const int hi = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
        const int lo = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            return fail(Errc::invalid_argument, "storage.kv.url: bad percent escape in the " + std::string(what));
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

}  // namespace

std::string RedisEndpoint::address() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<RedisEndpoint> parse_redis_url(std::string_view url) {
    RedisEndpoint ep;
    std::string_view rest;
    if (url.starts_with("redis://")) {
        rest = url.substr(8);
    } else if (url.starts_with("rediss://")) {
        ep.tls = true;
        rest = url.substr(9);
    } else {
        return fail(Errc::invalid_argument, "storage.kv.url must start with redis:// or rediss://");
    }
    // Credentials end at the last '@' (a password may contain '@' only percent-encoded, but be lenient).
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        const std::string_view credentials = rest.substr(0, at);
        rest = rest.substr(at + 1);
        const auto colon = credentials.find(':');
        auto user = percent_decode(credentials.substr(0, colon), "user");
        if (!user) return fail(user.error());
        ep.user = std::move(*user);
        if (colon != std::string_view::npos) {
            auto password = percent_decode(credentials.substr(colon + 1), "password");
            if (!password) return fail(password.error());
            ep.password = std::move(*password);
        } else {
            // redis://secret@host: a lone credential is the password (Redis before ACLs).
            ep.password = std::move(ep.user);
            ep.user.clear();
        }
    }
    std::string_view authority = rest;
    std::string_view path;
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
        authority = rest.substr(0, slash);
        path = rest.substr(slash + 1);
    }
    std::string_view port_text;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return fail(Errc::invalid_argument, "storage.kv.url: unclosed '[' in the host");
        ep.host = std::string(authority.substr(1, close - 1));
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return fail(Errc::invalid_argument, "storage.kv.url: bad text after the host");
            port_text = after.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        ep.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (ep.host.empty()) return fail(Errc::invalid_argument, "storage.kv.url has no host");
    if (!port_text.empty()) {
        unsigned value = 0;
        const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
        if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value == 0 || value > 65535) {
            return fail(Errc::invalid_argument, "storage.kv.url: the port must be 1..65535");
        }
        ep.port = static_cast<std::uint16_t>(value);
    }
    if (!path.empty()) {
        std::int64_t db = 0;
        const auto [ptr, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
        if (ec != std::errc() || ptr != path.data() + path.size() || db < 0) {
            return fail(Errc::invalid_argument, "storage.kv.url: the database must be a number >= 0");
        }
        ep.db = db;
    }
    return ep;
}

}  // namespace lt::adapters::redis
