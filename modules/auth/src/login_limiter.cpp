#include "login_limiter.hpp"

#include <algorithm>
#include <span>
#include <vector>

#include "lt/core/crypto.hpp"

namespace lt::auth {

namespace {

using Reply = std::vector<std::int64_t>;

constexpr std::int64_t kFailure = 1;
constexpr std::int64_t kReset = 2;
constexpr std::int64_t kCheck = 3;

// KEYS[1] = counter; ARGV = op, now ms, window ms, capacity, ttl ms. A check writes nothing.
// Numbers are written with '%.0f' (a bare number would become a 14-digit "%.14g" string).
constexpr const char* kLua = R"lua(
local op = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local ttl = ARGV[#ARGV]
local f = redis.call('HMGET', KEYS[1], 'f0', 'f1')
local start = tonumber(f[1])
local count = tonumber(f[2])
if start == nil or count == nil or now >= start + window or now < start then
  start = now
  count = 0
end
if op == 3 then
  if count >= cap then return {0, count, start} end
  return {1, count, start}
end
if op == 1 then
  count = count + 1
else
  count = 0
end
redis.call('HSET', KEYS[1], 'f0', string.format('%.0f', start), 'f1', string.format('%.0f', count))
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, count, start}
)lua";

Reply native(ports::KvState& state, std::span<const std::int64_t> args) {
    const std::int64_t op = args[0], now = args[1], window = args[2], cap = args[3];
    std::int64_t start = state.fields[0];
    std::int64_t count = state.fields[1];
    if (!state.exists || now >= start + window || now < start) {
        start = now;
        count = 0;
    }
    if (op == 3) return Reply{count >= cap ? 0 : 1, count, start};
    count = op == 1 ? count + 1 : 0;
    state.exists = true;
    state.fields[0] = start;
    state.fields[1] = count;
    return Reply{1, count, start};
}

std::int64_t millis(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Hashed: a user name (any bytes) never becomes a raw store key.
std::string account_key(const std::string& account) { return "login:user:" + crypto::sha256_hex(account); }
std::string ip_key(const std::string& ip) { return "login:ip:" + ip; }

}  // namespace

const ports::AtomicScript& LoginLimiter::script() {
    static const ports::AtomicScript kScript{"auth_login_window", kLua, &native};
    return kScript;
}

LoginLimiter::LoginLimiter(ports::KeyValueStore* kv, LoginLimitConfig config) : kv_(kv), config_(config) {}

boost::asio::awaitable<LoginAdmission> LoginLimiter::check(std::string account, std::string ip,
                                                          std::chrono::system_clock::time_point now) {
    LoginAdmission out;
    if (kv_ == nullptr || !config_.enabled) co_return out;
    const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.window).count();
    const std::int64_t now_ms = millis(now);
    const std::string keys[2] = {account_key(account), ip_key(ip)};
    const std::int64_t caps[2] = {config_.max_failures_per_account, config_.max_failures_per_ip};
    for (int i = 0; i < 2; ++i) {
        const std::int64_t args[] = {kCheck, now_ms, window_ms, caps[i]};
        auto op = kv_->atomic_update(keys[i], script(), args, std::chrono::milliseconds(window_ms));
        auto reply = co_await std::move(op);
        if (!reply || reply->size() < 3) continue;  // store down: do not lock everyone out
        if ((*reply)[0] == 1) continue;
        out.allowed = false;
        out.retry_after_seconds =
            std::max(out.retry_after_seconds, std::max<std::int64_t>(1, ((*reply)[2] + window_ms - now_ms + 999) / 1000));
    }
    co_return out;
}

boost::asio::awaitable<void> LoginLimiter::failed(std::string account, std::string ip,
                                                  std::chrono::system_clock::time_point now) {
    if (kv_ == nullptr || !config_.enabled) co_return;
    const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.window).count();
    const std::int64_t now_ms = millis(now);
    const std::string keys[2] = {account_key(account), ip_key(ip)};
    const std::int64_t caps[2] = {config_.max_failures_per_account, config_.max_failures_per_ip};
    for (int i = 0; i < 2; ++i) {
        const std::int64_t args[] = {kFailure, now_ms, window_ms, caps[i]};
        auto op = kv_->atomic_update(keys[i], script(), args, std::chrono::milliseconds(window_ms));
        (void)co_await std::move(op);
    }
}

boost::asio::awaitable<void> LoginLimiter::succeeded(std::string account, std::chrono::system_clock::time_point now) {
    if (kv_ == nullptr || !config_.enabled) co_return;
    const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.window).count();
    const std::string key = account_key(account);
    const std::int64_t args[] = {kReset, millis(now), window_ms, config_.max_failures_per_account};
    auto op = kv_->atomic_update(key, script(), args, std::chrono::milliseconds(window_ms));
    (void)co_await std::move(op);
}

}  // namespace lt::auth
