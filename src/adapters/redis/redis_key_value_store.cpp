#include "lt/adapters/redis_key_value_store.hpp"

#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <charconv>
#include <exception>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <boost/asio/ssl/context.hpp>

#include "redis_connection.hpp"
#include "redis_url.hpp"
#include "resp.hpp"

namespace lt::adapters {

namespace asio = boost::asio;
using redis::RedisConnection;
using redis::RespValue;

namespace {

/// Decimal text of an integer argument.
struct Number {
    std::array<char, 24> digits{};
    std::size_t size = 0;
    explicit Number(std::int64_t value) {
        size = static_cast<std::size_t>(std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr -
                                        digits.data());
    }
    std::string_view view() const { return {digits.data(), size}; }
};

std::string sha1_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 15]);
    }
    return out;
}

/// A Redis error reply as a port error: WRONGTYPE is a conflict (as the memory store), a value that
/// is not an integer or would overflow is invalid_argument, anything else internal.
Error redis_error(const RespValue& reply, std::string_view what) {
    const std::string& text = reply.text;
    if (text.find("WRONGTYPE") != std::string::npos) {
        return Error{Errc::conflict, std::string(what) + ": the key holds another kind of value"};
    }
    if (text.find("not an integer") != std::string::npos || text.find("overflow") != std::string::npos) {
        return Error{Errc::invalid_argument, std::string(what) + ": " + text};
    }
    return Error{Errc::internal, std::string(what) + " failed: " + text};
}

Error unexpected_reply(std::string_view what) {
    return Error{Errc::internal, std::string(what) + ": unexpected reply from redis"};
}

}  // namespace

struct RedisKeyValueStore::Impl {
    std::shared_ptr<redis::ConnectionSettings> settings;
    std::vector<std::shared_ptr<RedisConnection>> connections;
    std::atomic<std::size_t> next{0};

    struct CachedScript {
        std::string lua;
        std::string sha;
    };
    std::mutex scripts_mutex;  ///< guards scripts
    std::unordered_map<const ports::AtomicScript*, CachedScript> scripts;

    /// A connection to send on: a connected one (round robin), else one that is connecting (the call
    /// waits for it within its deadline), else null (every connection is down).
    RedisConnection* pick() {
        const std::size_t n = connections.size();
        const std::size_t start = next.fetch_add(1, std::memory_order_relaxed);
        RedisConnection* connecting = nullptr;
        for (std::size_t i = 0; i < n; ++i) {
            RedisConnection* c = connections[(start + i) % n].get();
            const auto state = c->state();
            if (state == redis::ConnectionState::connected) return c;
            if (state == redis::ConnectionState::connecting && connecting == nullptr) connecting = c;
        }
        return connecting;
    }

    std::string down_reason() const {
        for (const auto& c : connections) {
            if (auto why = c->last_error(); !why.empty()) return why;
        }
        return "not connected";
    }

    /// The SHA1 of `script.lua`, computed once per script object (and again if its text changed).
    std::string sha_of(const ports::AtomicScript& script) {
        {
            std::lock_guard lock(scripts_mutex);
            auto it = scripts.find(&script);
            if (it != scripts.end() && it->second.lua == script.lua) return it->second.sha;
        }
        std::string sha = sha1_hex(script.lua);
        std::lock_guard lock(scripts_mutex);
        scripts[&script] = CachedScript{script.lua, sha};
        return sha;
    }

    /// Sends `argv` (several commands when `replies` > 1: `encoded` already holds them).
    asio::awaitable<Result<RespValue>> send(std::string encoded, std::size_t replies) {
        RedisConnection* connection = pick();
        if (connection == nullptr) co_return fail(Errc::unavailable, "redis unavailable: " + down_reason());
        co_return co_await connection->call(std::move(encoded), replies);
    }

    asio::awaitable<Result<RespValue>> execute(std::span<const std::string_view> argv) {
        auto encoded = redis::encode_command(argv);
        if (!encoded) co_return fail(encoded.error());
        co_return co_await send(std::move(*encoded), 1);
    }

    /// EVALSHA, and EVAL (which also caches the script in Redis) when Redis does not know the SHA.
    asio::awaitable<Result<RespValue>> eval(const ports::AtomicScript& script, std::string_view key,
                                            std::span<const std::int64_t> args, std::int64_t ttl_ms) {
        const std::string sha = sha_of(script);
        std::vector<Number> numbers;
        numbers.reserve(args.size() + 1);
        for (std::int64_t a : args) numbers.emplace_back(a);
        numbers.emplace_back(ttl_ms);
        std::vector<std::string_view> argv;
        argv.reserve(4 + numbers.size());
        argv.push_back("EVALSHA");
        argv.push_back(sha);
        argv.push_back("1");
        argv.push_back(key);
        for (const auto& n : numbers) argv.push_back(n.view());
        auto reply = co_await execute(argv);
        if (reply && reply->is_error() && reply->text.starts_with("NOSCRIPT")) {
            argv[0] = "EVAL";
            argv[1] = script.lua;
            reply = co_await execute(argv);
        }
        co_return reply;
    }
};

RedisKeyValueStore::RedisKeyValueStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RedisKeyValueStore::~RedisKeyValueStore() {
    for (auto& c : impl_->connections) c->stop();
}

Result<std::unique_ptr<RedisKeyValueStore>> RedisKeyValueStore::open(asio::any_io_executor ex, std::string url,
                                                                     RedisOptions options) {
    auto endpoint = redis::parse_redis_url(url);
    if (!endpoint) return fail(endpoint.error());
    if (options.pool_size < 1) return fail(Errc::invalid_argument, "storage.kv.pool-size must be at least 1");
    if (options.timeout.count() <= 0) return fail(Errc::invalid_argument, "storage.kv.timeout must be positive");
    auto settings = std::make_shared<redis::ConnectionSettings>();
    settings->endpoint = std::move(*endpoint);
    settings->timeout = options.timeout;
    settings->backoff_min = std::max(options.reconnect_min, std::chrono::milliseconds(1));
    settings->backoff_max = std::max(options.reconnect_max, settings->backoff_min);
    settings->log = options.log;
    if (settings->endpoint.tls) {
        try {
            auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
            tls->set_default_verify_paths();
            if (!options.tls_ca_file.empty()) tls->load_verify_file(options.tls_ca_file);
            tls->set_verify_mode(asio::ssl::verify_peer);
            settings->tls = std::move(tls);
        } catch (const std::exception& e) {
            return fail(Errc::invalid_argument, std::string("redis TLS setup failed: ") + e.what());
        }
    }
    auto impl = std::make_unique<Impl>();
    impl->settings = settings;
    for (std::size_t i = 0; i < options.pool_size; ++i) {
        impl->connections.push_back(std::make_shared<RedisConnection>(ex, settings, i));
    }
    for (auto& c : impl->connections) c->start();
    return std::unique_ptr<RedisKeyValueStore>(new RedisKeyValueStore(std::move(impl)));
}

bool RedisKeyValueStore::available() const { return connected_count() > 0; }

std::size_t RedisKeyValueStore::connected_count() const {
    std::size_t up = 0;
    for (const auto& c : impl_->connections) up += c->state() == redis::ConnectionState::connected ? 1 : 0;
    return up;
}

asio::awaitable<Result<std::vector<std::int64_t>>> RedisKeyValueStore::atomic_update(
    std::string_view key, const ports::AtomicScript& script, std::span<const std::int64_t> args,
    std::chrono::milliseconds ttl) {
    if (ttl.count() <= 0) co_return fail(Errc::invalid_argument, "atomic_update needs a positive ttl");
    if (script.lua.empty()) {
        co_return fail(Errc::invalid_argument, "script '" + script.name + "' has no Lua implementation");
    }
    auto reply = co_await impl_->eval(script, key, args, ttl.count());
    if (!reply) co_return fail(std::move(reply.error()));
    if (reply->is_error()) co_return fail(redis_error(*reply, "script '" + script.name + "'"));
    if (reply->type != RespValue::Type::array) co_return fail(unexpected_reply("script '" + script.name + "'"));
    std::vector<std::int64_t> out;
    out.reserve(reply->elements.size());
    for (const auto& element : reply->elements) {
        if (element.type != RespValue::Type::integer) {
            co_return fail(Errc::internal, "script '" + script.name + "' replied something other than integers");
        }
        out.push_back(element.integer);
    }
    co_return out;
}

asio::awaitable<Result<std::optional<std::string>>> RedisKeyValueStore::get(std::string_view key) {
    const std::string_view argv[] = {"GET", key};
    auto reply = co_await impl_->execute(argv);
    if (!reply) co_return fail(std::move(reply.error()));
    switch (reply->type) {
        case RespValue::Type::nil: co_return std::optional<std::string>();
        case RespValue::Type::string: co_return std::optional<std::string>(std::move(reply->text));
        case RespValue::Type::error: co_return fail(redis_error(*reply, "get"));
        default: co_return fail(unexpected_reply("get"));
    }
}

asio::awaitable<Result<void>> RedisKeyValueStore::set(std::string_view key, std::string value,
                                                      std::chrono::milliseconds ttl) {
    if (ttl.count() < 0) co_return fail(Errc::invalid_argument, "set needs a ttl >= 0");
    const Number ttl_text(ttl.count());
    std::vector<std::string_view> argv{"SET", key, value};
    if (ttl.count() > 0) {
        argv.push_back("PX");
        argv.push_back(ttl_text.view());
    }
    auto reply = co_await impl_->execute(argv);
    if (!reply) co_return fail(std::move(reply.error()));
    if (reply->is_error()) co_return fail(redis_error(*reply, "set"));
    co_return ok();
}

asio::awaitable<Result<bool>> RedisKeyValueStore::erase(std::string_view key) {
    const std::string_view argv[] = {"DEL", key};
    auto reply = co_await impl_->execute(argv);
    if (!reply) co_return fail(std::move(reply.error()));
    if (reply->is_error()) co_return fail(redis_error(*reply, "erase"));
    if (reply->type != RespValue::Type::integer) co_return fail(unexpected_reply("erase"));
    co_return reply->integer > 0;
}

asio::awaitable<Result<std::int64_t>> RedisKeyValueStore::increment(std::string_view key, std::int64_t delta,
                                                                    std::chrono::milliseconds ttl) {
    if (ttl.count() < 0) co_return fail(Errc::invalid_argument, "increment needs a ttl >= 0");
    // SET NX creates the key (with its ttl) only when missing; INCRBY keeps an existing ttl. MULTI
    // makes the pair atomic; no Lua, whose doubles would round values beyond 2^53.
    const Number delta_text(delta);
    const Number ttl_text(ttl.count());
    std::vector<std::string_view> create{"SET", key, "0", "NX"};
    if (ttl.count() > 0) {
        create.push_back("PX");
        create.push_back(ttl_text.view());
    }
    const std::string_view multi[] = {"MULTI"};
    const std::string_view incr[] = {"INCRBY", key, delta_text.view()};
    const std::string_view exec[] = {"EXEC"};
    std::string encoded;
    for (std::span<const std::string_view> argv :
         {std::span<const std::string_view>(multi), std::span<const std::string_view>(create),
          std::span<const std::string_view>(incr), std::span<const std::string_view>(exec)}) {
        auto part = redis::encode_command(argv);
        if (!part) co_return fail(part.error());
        encoded += *part;
    }
    auto reply = co_await impl_->send(std::move(encoded), 4);
    if (!reply) co_return fail(std::move(reply.error()));
    // Replies: OK, QUEUED, QUEUED, [SET result, INCRBY result].
    if (reply->elements.size() != 4) co_return fail(unexpected_reply("increment"));
    for (const auto& r : reply->elements) {
        if (r.is_error()) co_return fail(redis_error(r, "increment"));
    }
    const RespValue& exec_reply = reply->elements[3];
    if (exec_reply.type != RespValue::Type::array || exec_reply.elements.size() != 2) {
        co_return fail(unexpected_reply("increment"));
    }
    const RespValue& value = exec_reply.elements[1];
    if (value.is_error()) co_return fail(redis_error(value, "increment"));
    if (value.type != RespValue::Type::integer) co_return fail(unexpected_reply("increment"));
    co_return value.integer;
}

}  // namespace lt::adapters
