#include "edge_limiter.hpp"

#include <algorithm>
#include <atomic>
#include <unordered_map>
#include <utility>

#include <boost/json.hpp>

#include "lt/core/config.hpp"
#include "lt/core/crypto.hpp"
#include "lt/core/metrics.hpp"
#include "lt/http/message.hpp"
#include "lt/http/errors.hpp"

namespace lt::gateway {

namespace {

using Reply = std::vector<std::int64_t>;

// KEYS[1] = counter; ARGV = now ms, window ms, capacity, ttl ms. Fields: f0 = window start (ms),
// f1 = count. Reply {allowed, count, window start}. A refused request writes nothing (it does not
// count). Numbers are written with '%.0f' (a bare number would become a 14-digit "%.14g" string).
constexpr const char* kLua = R"lua(
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local ttl = ARGV[#ARGV]
local f = redis.call('HMGET', KEYS[1], 'f0', 'f1')
local start = tonumber(f[1])
local count = tonumber(f[2])
if start == nil or count == nil or now >= start + window then
  start = now
  count = 0
end
if count + 1 > cap then
  return {0, count, start}
end
count = count + 1
redis.call('HSET', KEYS[1], 'f0', string.format('%.0f', start), 'f1', string.format('%.0f', count))
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, count, start}
)lua";

Reply native(ports::KvState& state, std::span<const std::int64_t> args) {
    const std::int64_t now = args[0], window = args[1], cap = args[2];
    std::int64_t start = state.fields[0];
    std::int64_t count = state.fields[1];
    if (!state.exists || now >= start + window) {
        start = now;
        count = 0;
    }
    if (count + 1 > cap) return Reply{0, count, start};
    ++count;
    state.exists = true;
    state.fields[0] = start;
    state.fields[1] = count;
    return Reply{1, count, start};
}

std::string trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
}

bool match_from(std::string_view p, std::string_view s) {
    while (!p.empty()) {
        if (p.substr(0, 2) == "**") {
            p.remove_prefix(2);
            if (!p.empty() && p.front() == '/') p.remove_prefix(1);
            if (p.empty()) return true;
            for (std::size_t i = 0; i <= s.size(); ++i) {
                if ((i == 0 || s[i - 1] == '/') && match_from(p, s.substr(i))) return true;
            }
            return false;
        }
        if (p.front() == '*') {
            p.remove_prefix(1);
            for (std::size_t i = 0; i <= s.size(); ++i) {
                if (match_from(p, s.substr(i))) return true;
                if (i < s.size() && s[i] == '/') break;
            }
            return false;
        }
        if (s.empty()) return false;
        if (p.front() != '?' && p.front() != s.front()) return false;
        if (p.front() == '?' && s.front() == '/') return false;
        p.remove_prefix(1);
        s.remove_prefix(1);
    }
    return s.empty();
}

std::string ietf_policy(const EdgeDecision& d) {
    return "\"edge\";q=" + std::to_string(d.capacity) + ";w=" + std::to_string(d.window_seconds);
}

std::string ietf_state(const EdgeDecision& d) {
    return "\"edge\";r=" + std::to_string(d.remaining) + ";t=" + std::to_string(d.reset_seconds);
}

/// Adds an item to a structured-field list header (one field line, items comma-separated).
void append_item(http::Response& res, std::string_view name, const std::string& item) {
    auto existing = std::string(res.header(name));
    res.set_header(std::string(name), existing.empty() ? item : existing + ", " + item);
}

}  // namespace

bool ant_match(std::string_view pattern, std::string_view path) {
    // "/actuator/**" also covers "/actuator" itself, as in Spring's AntPathMatcher.
    if (pattern.size() >= 3 && pattern.substr(pattern.size() - 3) == "/**" &&
        path == pattern.substr(0, pattern.size() - 3)) {
        return true;
    }
    return match_from(pattern, path);
}

void describe_edge_config(config::Schema& s) {
    using config::Type;
    s.add({"gateway.rate-limit.enabled", Type::boolean, "Edge rate limit per (route, client) at the gateway."});
    s.add({"gateway.rate-limit.capacity", Type::integer, "Requests per window and client on routes without their own limit.", 1});
    s.add({"gateway.rate-limit.window-seconds", Type::integer, "Length of the edge limiter's fixed window.", 1});
    config::KeySpec strategy{"gateway.rate-limit.key-strategy", Type::enumeration,
                             "Client key: IP, API_KEY_HEADER, USER_HEADER or AUTO (user id when authenticated, else IP)."};
    strategy.choices = {"IP", "API_KEY_HEADER", "USER_HEADER", "AUTO"};
    s.add(strategy);
    s.add({"gateway.rate-limit.header-name", Type::string, "Header holding the API key (API_KEY_HEADER strategy)."});
    s.add({"gateway.rate-limit.user-header-name", Type::string,
           "Header name of the user id (kept for the original's configuration; the verified user id is used)."});
    s.add({"gateway.rate-limit.counter-ttl", Type::duration, "How long an idle client's counter is kept.", 1000});
    s.add({"gateway.rate-limit.cleanup-interval", Type::duration,
           "Kept for the original's configuration (counters expire by their TTL in the key-value store).", 1000});
    s.add({"gateway.rate-limit.whitelist-paths", Type::string_list, "Ant patterns never limited (no headers)."});
    s.add({"gateway.rate-limit.blacklist-paths", Type::string_list, "Ant patterns always refused at the edge (403)."});
    s.add({"gateway.rate-limit.routes.*.capacity", Type::integer, "Requests per window on this route (route id).", 1});
    s.add({"gateway.rate-limit.routes.*.window-seconds", Type::integer, "Window of this route's limit.", 1});
    s.add({"feature.flags.gateway.rate-limiting", Type::boolean, "Feature flag of the edge rate limiter."});
}

EdgeLimitConfig parse_edge_config(const config::Config& c) {
    EdgeLimitConfig e;
    e.enabled = c.get_bool("gateway.rate-limit.enabled", true) && c.get_bool("feature.flags.gateway.rate-limiting", true);
    e.global.capacity = std::max<std::int64_t>(1, c.get_int("gateway.rate-limit.capacity", e.global.capacity));
    e.global.window =
        std::chrono::seconds(std::max<std::int64_t>(1, c.get_int("gateway.rate-limit.window-seconds", e.global.window.count())));
    const auto strategy = c.get_string("gateway.rate-limit.key-strategy", "AUTO");
    std::string upper(strategy);
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    e.strategy = upper == "IP"               ? KeyStrategy::ip
                 : upper == "API_KEY_HEADER" ? KeyStrategy::api_key_header
                 : upper == "USER_HEADER"    ? KeyStrategy::user_header
                                             : KeyStrategy::automatic;
    e.api_key_header = c.get_string("gateway.rate-limit.header-name", e.api_key_header);
    e.user_header = c.get_string("gateway.rate-limit.user-header-name", e.user_header);
    e.counter_ttl = c.get_duration("gateway.rate-limit.counter-ttl", e.counter_ttl);
    e.whitelist = c.get_list("gateway.rate-limit.whitelist-paths");
    e.blacklist = c.get_list("gateway.rate-limit.blacklist-paths");
    for (const auto& route : c.children("gateway.rate-limit.routes")) {
        const auto base = "gateway.rate-limit.routes." + route;
        EdgeLimit limit = e.global;
        limit.capacity = std::max<std::int64_t>(1, c.get_int(base + ".capacity", limit.capacity));
        limit.window = std::chrono::seconds(std::max<std::int64_t>(1, c.get_int(base + ".window-seconds", limit.window.count())));
        e.routes.emplace(route, limit);
    }
    return e;
}

const ports::AtomicScript& EdgeLimiter::script() {
    static const ports::AtomicScript kScript{"gateway_edge_window", kLua, &native};
    return kScript;
}

std::uint64_t EdgeLimiter::next_id() {
    static std::atomic<std::uint64_t> counter{0};
    return ++counter;
}

Counter& EdgeLimiter::counter(const std::string& route_id, bool allowed) const {
    thread_local std::unordered_map<std::string, std::pair<Counter*, Counter*>> cache;
    thread_local std::uint64_t owner = 0;
    if (owner != id_) {
        cache.clear();
        owner = id_;
    }
    auto it = cache.find(route_id);
    if (it == cache.end()) {
        it = cache.emplace(route_id, std::make_pair(&metrics_->labels({route_id, "allowed"}),
                                                    &metrics_->labels({route_id, "blocked"})))
                 .first;
    }
    return allowed ? *it->second.first : *it->second.second;
}

EdgeLimiter::EdgeLimiter(ports::KeyValueStore& kv, EdgeLimitConfig config, CounterFamily* metrics)
    : kv_(kv), config_(std::make_shared<const EdgeLimitConfig>(std::move(config))), metrics_(metrics) {}

std::string EdgeLimiter::client_key(const http::Request& req, const std::optional<std::string>& principal_user) const {
    const auto cfg = config_.load();
    switch (cfg->strategy) {
        case KeyStrategy::api_key_header: {
            auto key = trimmed(req.header(cfg->api_key_header));
            // Hashed: the raw key never becomes a store key.
            if (!key.empty()) return "apiKey:" + crypto::sha256_hex(key);
            break;
        }
        case KeyStrategy::user_header:
        case KeyStrategy::automatic:
            // Only the verified identity: a client-sent X-User-Id is stripped (CONTRACT 6, 27).
            if (principal_user && !principal_user->empty()) return "user:" + *principal_user;
            break;
        case KeyStrategy::ip: break;
    }
    return "ip:" + req.remote_ip;
}

boost::asio::awaitable<Result<EdgeDecision>> EdgeLimiter::check(std::string route_id, std::string path,
                                                                std::string client,
                                                                std::chrono::system_clock::time_point now) {
    EdgeDecision d;
    const auto cfg = config_.load();  // one snapshot for the whole decision
    if (!cfg->enabled) co_return d;
    for (const auto& p : cfg->blacklist) {
        if (ant_match(p, path)) {
            d.blocked_path = true;
            d.allowed = false;
            co_return d;
        }
    }
    for (const auto& p : cfg->whitelist) {
        if (ant_match(p, path)) co_return d;
    }
    EdgeLimit limit = cfg->global;
    if (auto it = cfg->routes.find(route_id); it != cfg->routes.end()) limit = it->second;
    const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit.window).count();
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::int64_t args[] = {now_ms, window_ms, limit.capacity};
    const auto ttl = std::max(cfg->counter_ttl, std::chrono::milliseconds(window_ms));
    // The key must outlive the awaited call (the port takes a string_view).
    const std::string key = "edge:" + route_id + ":" + client;
    auto op = kv_.atomic_update(key, script(), args, ttl);
    auto reply = co_await std::move(op);
    if (!reply || reply->size() < 3) {
        co_return fail(Errc::unavailable, "service unavailable");
    }
    const auto& r = *reply;
    d.limited = true;
    d.allowed = r[0] == 1;
    d.policy_route = route_id;
    d.capacity = limit.capacity;
    d.remaining = std::max<std::int64_t>(0, limit.capacity - r[1]);
    if (!d.allowed) d.remaining = 0;
    const auto end_ms = r[2] + window_ms;
    d.reset_seconds = std::max<std::int64_t>(0, (end_ms - now_ms + 999) / 1000);
    d.window_seconds = limit.window.count();
    if (metrics_) counter(route_id, d.allowed).inc();
    co_return d;
}

void EdgeLimiter::apply_headers(http::Response& res, const EdgeDecision& d, bool skip_x_headers) {
    if (!d.limited) return;
    if (!skip_x_headers) {
        res.set_header("X-RateLimit-Limit", std::to_string(d.capacity));
        res.set_header("X-RateLimit-Remaining", std::to_string(d.remaining));
        res.set_header("X-RateLimit-Reset", std::to_string(d.reset_seconds));
    }
    append_item(res, "RateLimit-Policy", ietf_policy(d));
    append_item(res, "RateLimit", ietf_state(d));
}

http::Response EdgeLimiter::rejection(const EdgeDecision& d, std::string_view path) {
    const auto retry = std::max<std::int64_t>(1, d.reset_seconds);
    auto res = http::error_response(429, "rate limit exceeded", path, boost::json::object{{"retryAfterSeconds", retry}});
    EdgeDecision shown = d;
    shown.reset_seconds = retry;
    shown.remaining = 0;
    res.set_header("Retry-After", std::to_string(retry));
    apply_headers(res, shown, false);
    return res;
}

}  // namespace lt::gateway
