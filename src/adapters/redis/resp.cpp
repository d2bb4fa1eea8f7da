#include "resp.hpp"

#include <hiredis/hiredis.h>

#include <new>

namespace lt::adapters::redis {

namespace {

RespValue convert(const redisReply& reply) {
    RespValue value;
    switch (reply.type) {
        case REDIS_REPLY_INTEGER:
            value.type = RespValue::Type::integer;
            value.integer = reply.integer;
            break;
        case REDIS_REPLY_STRING:
            value.type = RespValue::Type::string;
            value.text.assign(reply.str, reply.len);
            break;
        case REDIS_REPLY_STATUS:
            value.type = RespValue::Type::status;
            value.text.assign(reply.str, reply.len);
            break;
        case REDIS_REPLY_ERROR:
            value.type = RespValue::Type::error;
            value.text.assign(reply.str, reply.len);
            break;
        case REDIS_REPLY_ARRAY:
            value.type = RespValue::Type::array;
            value.elements.reserve(reply.elements);
            for (std::size_t i = 0; i < reply.elements; ++i) value.elements.push_back(convert(*reply.element[i]));
            break;
        default:
            value.type = RespValue::Type::nil;
            break;
    }
    return value;
}

}  // namespace

Result<std::string> encode_command(std::span<const std::string_view> argv) {
    std::vector<const char*> pointers;
    std::vector<std::size_t> lengths;
    pointers.reserve(argv.size());
    lengths.reserve(argv.size());
    for (std::string_view arg : argv) {
        pointers.push_back(arg.data());
        lengths.push_back(arg.size());
    }
    char* out = nullptr;
    const int size = redisFormatCommandArgv(&out, static_cast<int>(argv.size()), pointers.data(), lengths.data());
    if (size < 0 || out == nullptr) return fail(Errc::internal, "redis command could not be encoded");
    std::string command(out, static_cast<std::size_t>(size));
    redisFreeCommand(out);
    return command;
}

RespReader::RespReader() : reader_(redisReaderCreate()) {
    if (reader_ == nullptr) throw std::bad_alloc();
}

RespReader::~RespReader() { redisReaderFree(reader_); }

Result<void> RespReader::feed(const char* data, std::size_t size) {
    if (redisReaderFeed(reader_, data, size) != REDIS_OK) {
        return fail(Errc::internal, std::string("redis reply decoder failed: ") + reader_->errstr);
    }
    return ok();
}

Result<std::optional<RespValue>> RespReader::next() {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
        return fail(Errc::internal, std::string("redis protocol error: ") + reader_->errstr);
    }
    if (raw == nullptr) return std::optional<RespValue>();
    auto* reply = static_cast<redisReply*>(raw);
    std::optional<RespValue> value;
    try {
        value = convert(*reply);
    } catch (...) {
        freeReplyObject(reply);
        throw;
    }
    freeReplyObject(reply);
    return value;
}

}  // namespace lt::adapters::redis
