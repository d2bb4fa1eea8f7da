#pragma once
/// Parsing of `storage.kv.url`: `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS.

#include <cstdint>
#include <string>
#include <string_view>

#include "lt/core/result.hpp"

namespace lt::adapters::redis {

/// Where and how to connect. `password` is a secret: never logged.
struct RedisEndpoint {
    bool tls = false;       ///< rediss://
    std::string host;       ///< name or address (IPv6 without brackets)
    std::uint16_t port = 6379;
    std::string user;       ///< empty: AUTH with the password only (or no AUTH)
    std::string password;   ///< empty: no AUTH
    std::int64_t db = 0;    ///< SELECT when not 0

    /// `host:port` (IPv6 in brackets) for messages; no credentials.
    std::string address() const;
};

/// Parses `url`; user and password are percent-decoded. invalid_argument naming what is wrong (the
/// message never repeats the password).
Result<RedisEndpoint> parse_redis_url(std::string_view url);

}  // namespace lt::adapters::redis
