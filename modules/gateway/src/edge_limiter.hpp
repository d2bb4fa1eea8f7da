#pragma once
/// EdgeLimiter: the gateway's edge rate limit (seed-behavior.md §4.5, CONTRACT 8, 17, 27): a fixed
/// window per (route, client) kept in the key-value port as one atomic script, so gateways sharing
/// Redis share the limit. Rejected requests do not count.

#include <atomic>
#include <chrono>
#include <memory>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "lt/core/metrics.hpp"
#include "lt/core/result.hpp"
#include "lt/http/message.hpp"
#include "lt/ports/key_value_store.hpp"

namespace lt {
namespace config {
class Config;
class Schema;
}  // namespace config
}  // namespace lt

namespace lt::gateway {

/// How the client part of the counter key is chosen (gateway.rate-limit.key-strategy).
enum class KeyStrategy { ip, api_key_header, user_header, automatic };

/// Capacity per window.
struct EdgeLimit {
    std::int64_t capacity = 120;
    std::chrono::seconds window{60};
};

/// gateway.rate-limit.* and feature.flags.gateway.rate-limiting.
struct EdgeLimitConfig {
    bool enabled = true;
    EdgeLimit global;
    std::map<std::string, EdgeLimit, std::less<>> routes;  ///< by original route id ("token-service")
    KeyStrategy strategy = KeyStrategy::automatic;
    std::string api_key_header = "X-Api-Key";
    std::string user_header = "X-User-Id";
    std::chrono::milliseconds counter_ttl = std::chrono::hours(6);
    std::vector<std::string> whitelist;  ///< Ant patterns: never limited, no headers
    std::vector<std::string> blacklist;  ///< Ant patterns: always refused (403)
};

/// Declares the keys (describe_config) and parses them.
void describe_edge_config(config::Schema& schema);
EdgeLimitConfig parse_edge_config(const config::Config& cfg);

/// Ant-style path match: `**` any number of segments, `*` within one segment, `?` one character.
bool ant_match(std::string_view pattern, std::string_view path);

/// The outcome for one request.
struct EdgeDecision {
    bool limited = false;       ///< false: the path is whitelisted or the limiter is off (no headers)
    bool blocked_path = false;  ///< the path is blacklisted: refuse with 403
    bool allowed = true;
    std::string policy_route;   ///< route id the limit applies to
    std::int64_t capacity = 0;
    std::int64_t remaining = 0;
    std::int64_t reset_seconds = 0;  ///< whole seconds until the window ends (rounded up)
    std::int64_t window_seconds = 0;
};

/// Thread-safe (the state is in the key-value store); call from any coroutine.
class EdgeLimiter {
public:
    /// `kv` and `metrics` (may be null) must outlive the limiter.
    EdgeLimiter(ports::KeyValueStore& kv, EdgeLimitConfig config, CounterFamily* metrics);

    /// Counts `req` against the window of (route id, client). `principal_user` is the verified user
    /// id, if any. Errors of the store → Errc::unavailable.
    boost::asio::awaitable<Result<EdgeDecision>> check(std::string route_id, std::string path, std::string client,
                                                       std::chrono::system_clock::time_point now);

    /// The client part of the key for a request (CONTRACT 27: the user id when authenticated, else
    /// the remote IP without the port; other strategies as configured).
    std::string client_key(const http::Request& req, const std::optional<std::string>& principal_user) const;

    /// Adds the edge headers to `res` (X-RateLimit-* unless `skip_x_headers`; IETF "edge" always).
    static void apply_headers(http::Response& res, const EdgeDecision& d, bool skip_x_headers);
    /// The 429 (CONTRACT 1, 27) for a refused request.
    static http::Response rejection(const EdgeDecision& d, std::string_view path);

    /// The fixed-window script (native and Lua twins); exposed for the Lua twin test.
    static const ports::AtomicScript& script();

    /// The settings in force (a snapshot).
    std::shared_ptr<const EdgeLimitConfig> config() const { return config_.load(); }
    /// Replaces the settings (POST /actuator/refresh); requests already counting finish with the old
    /// ones. Any thread.
    void update(EdgeLimitConfig config) { config_.store(std::make_shared<const EdgeLimitConfig>(std::move(config))); }

private:
    ports::KeyValueStore& kv_;
    std::atomic<std::shared_ptr<const EdgeLimitConfig>> config_;
    CounterFamily* metrics_;
    const std::uint64_t id_ = next_id();  ///< keys the per-thread counter cache (an address may be reused)
    static std::uint64_t next_id();
    /// gateway_rate_limit_total{route,result}, looked up once per (route, result) and thread: the
    /// family's lock is not taken per request (two I/O threads contending on it cost ~20 % of chat).
    Counter& counter(const std::string& route_id, bool allowed) const;
};

}  // namespace lt::gateway
