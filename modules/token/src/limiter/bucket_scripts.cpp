// The six AtomicScripts of the rate limiter (acquire and refund for each strategy), each written
// twice: native C++ for the memory store and Lua for Redis. The two must stay operation-for-operation
// identical; rate_limiter_lua_test.cpp runs both on the same random operations and compares replies
// and stored fields.
//
// Lua notes: Redis Lua numbers are doubles, exact below 2^53 (guaranteed by the bounds in
// rate_limiter.hpp); integer division is done as (a - fmod(a, b)) / b, which is exact; numbers are
// written with string.format('%.0f') because Redis would turn a bare number into a 14-digit "%.14g"
// string. The same text runs on Lua 5.1 (Redis) and 5.4 (the test).

#include <algorithm>
#include <array>
#include <span>
#include <string>
#include <vector>

#include "limiter/bucket_math.hpp"
#include "limiter/rate_limiter.hpp"

namespace lt::token {

namespace {

using detail::ceil_div;
using detail::elapsed_since;
using detail::kTagFixedWindow;
using detail::kTagLeaky;
using detail::kTagTokenBucket;
using detail::leak;
using detail::refill;
using detail::wait_for;
using ports::KvState;
using Args = std::span<const std::int64_t>;
using Reply = std::vector<std::int64_t>;

// ---- Lua --------------------------------------------------------------------------------------

/// Helpers and argument parsing shared by every script (mirrors bucket_math.hpp).
constexpr const char* kLuaPrelude = R"lua(
local S = 1000000
local TOL = 60000
local key = KEYS[1]
local ttl = ARGV[#ARGV]
local now = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local f = redis.call('HMGET', key, 'f0', 'f1', 'f2', 'f3')
local function ceil_div(a, b)
  local r = math.fmod(a, b)
  local q = (a - r) / b
  if r > 0 then q = q + 1 end
  return q
end
local function floor_div(a, b)
  return (a - math.fmod(a, b)) / b
end
local function fmt(x)
  return string.format('%.0f', x)
end
local function elapsed_since(last, t)
  if t >= last then return t - last, t end
  if last - t <= TOL then return 0, last end
  return 0, t
end
local function leak(level, elapsed, r)
  if r > 0 and level > 0 then
    if elapsed >= ceil_div(level, r) then return 0 end
    return level - elapsed * r
  end
  return level
end
local function refill(avail, cap_u, elapsed, r)
  if avail > cap_u then return cap_u end
  if r > 0 and avail < cap_u then
    if elapsed >= ceil_div(cap_u - avail, r) then return cap_u end
    return avail + elapsed * r
  end
  return avail
end
local function wait_for(deficit, r)
  if r > 0 then return ceil_div(deficit, r * 1000) end
  return -1
end
local function mine(tag)
  return f[1] and tonumber(f[4]) == tag
end
local function save(v0, v1, tag)
  redis.call('HSET', key, 'f0', fmt(v0), 'f1', fmt(v1), 'f2', '0', 'f3', fmt(tag))
  redis.call('PEXPIRE', key, ttl)
end
)lua";

constexpr const char* kLuaLeakyAcquire = R"lua(
local TAG = 1
local level, last = 0, now
if mine(TAG) then
  level = tonumber(f[1])
  last = tonumber(f[2])
end
local elapsed
elapsed, last = elapsed_since(last, now)
level = leak(level, elapsed, rate)
local cap_u = cap * S
local need_u = n * S
local allowed, wait = 0, 0
if need_u <= cap_u - level then
  level = level + need_u
  allowed = 1
else
  wait = wait_for(need_u - (cap_u - level), rate)
end
local used = ceil_div(level, S)
if used > cap then used = cap end
save(level, last, TAG)
return {allowed, used, cap - used, wait}
)lua";

constexpr const char* kLuaTokenAcquire = R"lua(
local TAG = 2
local cap_u = cap * S
local avail, last = cap_u, now
if mine(TAG) then
  avail = tonumber(f[1])
  last = tonumber(f[2])
end
local elapsed
elapsed, last = elapsed_since(last, now)
avail = refill(avail, cap_u, elapsed, rate)
local need_u = n * S
local allowed, wait = 0, 0
if need_u <= avail then
  avail = avail - need_u
  allowed = 1
else
  wait = wait_for(need_u - avail, rate)
end
local remaining = floor_div(avail, S)
save(avail, last, TAG)
return {allowed, cap - remaining, remaining, wait}
)lua";

constexpr const char* kLuaWindowAcquire = R"lua(
local TAG = 3
local window = rate
local count, start = 0, now
if mine(TAG) then
  count = tonumber(f[1])
  start = tonumber(f[2])
  if start - now > TOL then start = now end
end
if now >= start + window then
  start = now
  count = 0
end
local allowed, wait = 0, 0
if count + n <= cap then
  count = count + n
  allowed = 1
else
  wait = ceil_div(start + window - now, 1000)
end
local used = count
if used > cap then used = cap end
save(count, start, TAG)
return {allowed, used, cap - used, wait}
)lua";

constexpr const char* kLuaLeakyRefund = R"lua(
local TAG = 1
if not mine(TAG) then return {0, 0, cap} end
local elapsed, last = elapsed_since(tonumber(f[2]), now)
local level = leak(tonumber(f[1]), elapsed, rate) - n * S
if level < 0 then level = 0 end
save(level, last, TAG)
local used = ceil_div(level, S)
if used > cap then used = cap end
return {1, used, cap - used}
)lua";

constexpr const char* kLuaTokenRefund = R"lua(
local TAG = 2
if not mine(TAG) then return {0, 0, cap} end
local cap_u = cap * S
local elapsed, last = elapsed_since(tonumber(f[2]), now)
local avail = refill(tonumber(f[1]), cap_u, elapsed, rate) + n * S
if avail > cap_u then avail = cap_u end
save(avail, last, TAG)
local remaining = floor_div(avail, S)
return {1, cap - remaining, remaining}
)lua";

constexpr const char* kLuaWindowRefund = R"lua(
local TAG = 3
if not mine(TAG) then return {0, 0, cap} end
local window = rate
local acquired = tonumber(ARGV[5])
local count = tonumber(f[1])
local start = tonumber(f[2])
if now >= start + window then return {0, 0, cap} end
local applied = 0
if acquired >= start and acquired < start + window then
  count = count - n
  if count < 0 then count = 0 end
  save(count, start, TAG)
  applied = 1
end
local used = count
if used > cap then used = cap end
return {applied, used, cap - used}
)lua";

// ---- native -----------------------------------------------------------------------------------

bool mine(const KvState& state, std::int64_t tag) { return state.exists && state.fields[3] == tag; }

void save(KvState& state, std::int64_t v0, std::int64_t v1, std::int64_t tag) {
    state.exists = true;
    state.fields = {v0, v1, 0, tag};
}

Reply leaky_acquire(KvState& state, Args args) {
    const std::int64_t now = args[0], cap = args[1], rate = args[2], n = args[3];
    std::int64_t level = 0;
    std::int64_t last = now;
    if (mine(state, kTagLeaky)) {
        level = state.fields[0];
        last = state.fields[1];
    }
    const auto since = elapsed_since(last, now);
    level = leak(level, since.elapsed_ms, rate);
    const std::int64_t cap_u = cap * kScale;
    const std::int64_t need_u = n * kScale;
    std::int64_t allowed = 0;
    std::int64_t wait = 0;
    if (need_u <= cap_u - level) {
        level += need_u;
        allowed = 1;
    } else {
        wait = wait_for(need_u - (cap_u - level), rate);
    }
    const std::int64_t used = std::min(ceil_div(level, kScale), cap);
    save(state, level, since.stored_ms, kTagLeaky);
    return Reply{allowed, used, cap - used, wait};
}

Reply token_acquire(KvState& state, Args args) {
    const std::int64_t now = args[0], cap = args[1], rate = args[2], n = args[3];
    const std::int64_t cap_u = cap * kScale;
    std::int64_t avail = cap_u;  // a new key starts full
    std::int64_t last = now;
    if (mine(state, kTagTokenBucket)) {
        avail = state.fields[0];
        last = state.fields[1];
    }
    const auto since = elapsed_since(last, now);
    avail = refill(avail, cap_u, since.elapsed_ms, rate);
    const std::int64_t need_u = n * kScale;
    std::int64_t allowed = 0;
    std::int64_t wait = 0;
    if (need_u <= avail) {
        avail -= need_u;
        allowed = 1;
    } else {
        wait = wait_for(need_u - avail, rate);
    }
    const std::int64_t remaining = avail / kScale;
    save(state, avail, since.stored_ms, kTagTokenBucket);
    return Reply{allowed, cap - remaining, remaining, wait};
}

Reply window_acquire(KvState& state, Args args) {
    const std::int64_t now = args[0], cap = args[1], window = args[2], n = args[3];
    std::int64_t count = 0;
    std::int64_t start = now;
    if (mine(state, kTagFixedWindow)) {
        count = state.fields[0];
        start = state.fields[1];
        if (start - now > kClockStepTolerance.count()) start = now;
    }
    if (now >= start + window) {
        start = now;
        count = 0;
    }
    std::int64_t allowed = 0;
    std::int64_t wait = 0;
    if (count + n <= cap) {
        count += n;
        allowed = 1;
    } else {
        wait = ceil_div(start + window - now, 1000);
    }
    const std::int64_t used = std::min(count, cap);
    save(state, count, start, kTagFixedWindow);
    return Reply{allowed, used, cap - used, wait};
}

Reply leaky_refund(KvState& state, Args args) {
    const std::int64_t now = args[0], cap = args[1], rate = args[2], n = args[3];
    if (!mine(state, kTagLeaky)) return Reply{0, 0, cap};
    const auto since = elapsed_since(state.fields[1], now);
    const std::int64_t level = std::max<std::int64_t>(leak(state.fields[0], since.elapsed_ms, rate) - n * kScale, 0);
    save(state, level, since.stored_ms, kTagLeaky);
    const std::int64_t used = std::min(ceil_div(level, kScale), cap);
    return Reply{1, used, cap - used};
}

Reply token_refund(KvState& state, Args args) {
    const std::int64_t now = args[0], cap = args[1], rate = args[2], n = args[3];
    if (!mine(state, kTagTokenBucket)) return Reply{0, 0, cap};
    const std::int64_t cap_u = cap * kScale;
    const auto since = elapsed_since(state.fields[1], now);
    const std::int64_t avail =
        std::min(refill(state.fields[0], cap_u, since.elapsed_ms, rate) + n * kScale, cap_u);
    save(state, avail, since.stored_ms, kTagTokenBucket);
    const std::int64_t remaining = avail / kScale;
    return Reply{1, cap - remaining, remaining};
}

Reply window_refund(KvState& state, Args args) {
    const std::int64_t now = args[0], cap = args[1], window = args[2], n = args[3], acquired = args[4];
    if (!mine(state, kTagFixedWindow)) return Reply{0, 0, cap};
    std::int64_t count = state.fields[0];
    const std::int64_t start = state.fields[1];
    if (now >= start + window) return Reply{0, 0, cap};  // over: the next acquire starts a new window
    std::int64_t applied = 0;
    if (acquired >= start && acquired < start + window) {
        count = std::max<std::int64_t>(count - n, 0);
        save(state, count, start, kTagFixedWindow);
        applied = 1;
    }
    const std::int64_t used = std::min(count, cap);
    return Reply{applied, used, cap - used};
}

ports::AtomicScript make(std::string name, const char* body, Reply (*native)(KvState&, Args)) {
    ports::AtomicScript script;
    script.name = std::move(name);
    script.lua = std::string(kLuaPrelude) + body;
    script.native = native;
    return script;
}

std::size_t index_of(Strategy s) {
    switch (s) {
        case Strategy::leaky_bucket: return 0;
        case Strategy::token_bucket: return 1;
        case Strategy::fixed_window: return 2;
    }
    return 0;
}

}  // namespace

const ports::AtomicScript& RateLimiter::script(Strategy s) {
    static const std::array<ports::AtomicScript, 3> scripts = {
        make("token_leaky_bucket_acquire", kLuaLeakyAcquire, &leaky_acquire),
        make("token_token_bucket_acquire", kLuaTokenAcquire, &token_acquire),
        make("token_fixed_window_acquire", kLuaWindowAcquire, &window_acquire),
    };
    return scripts[index_of(s)];
}

const ports::AtomicScript& RateLimiter::refund_script(Strategy s) {
    static const std::array<ports::AtomicScript, 3> scripts = {
        make("token_leaky_bucket_refund", kLuaLeakyRefund, &leaky_refund),
        make("token_token_bucket_refund", kLuaTokenRefund, &token_refund),
        make("token_fixed_window_refund", kLuaWindowRefund, &window_refund),
    };
    return scripts[index_of(s)];
}

}  // namespace lt::token
