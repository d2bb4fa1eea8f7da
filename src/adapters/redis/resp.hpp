#pragma once
/// RESP (the Redis protocol) on top of hiredis 0.14, used only as a codec: commands are encoded with
/// redisFormatCommandArgv and replies decoded with a redisReader; the sockets belong to Asio.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lt/core/result.hpp"

struct redisReader;

namespace lt::adapters::redis {

/// One decoded reply, owning its data (hiredis' reply object is freed at once).
struct RespValue {
    enum class Type { nil, integer, string, status, error, array };
    Type type = Type::nil;
    std::int64_t integer = 0;         ///< Type::integer
    std::string text;                 ///< Type::string, status and error
    std::vector<RespValue> elements;  ///< Type::array

    bool is_error() const { return type == Type::error; }
};

/// The wire form of one command (`*N\r\n$len\r\narg\r\n...`); binary-safe. Any thread.
Result<std::string> encode_command(std::span<const std::string_view> argv);

/// Incremental reply decoder: feed bytes as they arrive, take replies as they complete. One per
/// connection; not thread-safe (used on its connection's strand).
class RespReader {
public:
    RespReader();
    ~RespReader();
    RespReader(const RespReader&) = delete;
    RespReader& operator=(const RespReader&) = delete;

    /// Appends received bytes; internal error when the reader fails (out of memory).
    Result<void> feed(const char* data, std::size_t size);
    /// The next complete reply, nullopt when more bytes are needed; internal error on a protocol
    /// error (the connection must then be dropped).
    Result<std::optional<RespValue>> next();

private:
    redisReader* reader_;
};

}  // namespace lt::adapters::redis
