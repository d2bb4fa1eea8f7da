#pragma once
/// Per-route resilience of the gateway (issue 11 part 3): a count-based circuit breaker and a bulkhead
/// per downstream route, with resilience4j's library defaults (sliding window 100, 50 % failures,
/// 30 s open, 5 calls half-open; bulkhead 100 concurrent calls, 500 ms wait), a timeout per route and
/// a retry of idempotent methods. Configured under `gateway.resilience.*`, per route under
/// `gateway.resilience.routes.<route-id>.*`.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "lt/core/config.hpp"
#include "lt/core/metrics.hpp"

namespace lt::gateway {

/// Settings of one route (durations in milliseconds).
struct ResiliencePolicy {
    int sliding_window = 100;                         ///< circuit-breaker.sliding-window-size (calls)
    int minimum_calls = 100;                          ///< circuit-breaker.minimum-number-of-calls
    double failure_rate = 50;                         ///< circuit-breaker.failure-rate-threshold (%)
    std::chrono::milliseconds open_for{30000};        ///< circuit-breaker.wait-duration-in-open-state
    int half_open_calls = 5;                          ///< circuit-breaker.permitted-calls-in-half-open-state
    int bulkhead_max = 100;                           ///< bulkhead.max-concurrent-calls
    std::chrono::milliseconds bulkhead_wait{500};     ///< bulkhead.max-wait-duration
    std::chrono::milliseconds timeout{10000};         ///< timeout: until the downstream's response head
    int retry_attempts = 3;                           ///< retry.max-attempts (idempotent methods only)
    std::chrono::milliseconds retry_wait{500};        ///< retry.wait-duration
};

struct ResilienceConfig {
    bool enabled = true;                              ///< gateway.resilience.enabled
    ResiliencePolicy defaults;
    std::map<std::string, ResiliencePolicy> routes;   ///< by route id (token-service, auth-server, ...)
    /// The policy of `route_id` (its overrides over the defaults).
    const ResiliencePolicy& policy(const std::string& route_id) const;
};

/// Declares gateway.resilience.* in the schema (start-up).
void describe_resilience_config(config::Schema& s);
/// Reads gateway.resilience.*; per-route keys override the defaults key by key.
ResilienceConfig parse_resilience_config(const config::Config& c);

/// Count-based circuit breaker (resilience4j semantics). Thread-safe; any thread. Time is passed in
/// (steady clock) so tests can drive it.
class CircuitBreaker {
public:
    enum class State { closed = 0, open = 1, half_open = 2 };
    /// Identifies the state a permitted call started in: an outcome from an older state is ignored.
    struct Permit {
        bool allowed = false;
        std::uint64_t generation = 0;
    };

    explicit CircuitBreaker(const ResiliencePolicy& p) : policy_(p) { ring_.assign(static_cast<std::size_t>(std::max(1, p.sliding_window)), 0); }

    /// Asks to make a call at `now`: refused while open (and past the half-open permits); an open
    /// breaker whose wait passed turns half-open.
    Permit try_acquire(std::chrono::steady_clock::time_point now);
    /// Records the outcome of a permitted call; may open or close the breaker.
    void record(const Permit& p, bool success, std::chrono::steady_clock::time_point now);
    State state() const;
    /// When an open breaker lets calls through again.
    std::chrono::steady_clock::time_point open_until() const;
    /// Called with the new state on every transition (the metric gauge), under the breaker's lock.
    void on_transition(std::function<void(State)> fn) { on_transition_ = std::move(fn); }

private:
    void transition(State s, std::chrono::steady_clock::time_point now);

    ResiliencePolicy policy_;
    mutable std::mutex mutex_;
    State state_ = State::closed;
    std::uint64_t generation_ = 0;
    std::vector<std::uint8_t> ring_;  ///< 1 = failure
    std::size_t next_ = 0;
    std::size_t recorded_ = 0;
    std::size_t failures_ = 0;
    int half_open_started_ = 0;
    int half_open_done_ = 0;
    int half_open_failures_ = 0;
    std::chrono::steady_clock::time_point open_until_{};
    std::function<void(State)> on_transition_;
};

/// Concurrency limit with a bounded wait (semaphore polled on a timer: never blocks a thread).
class Bulkhead {
public:
    explicit Bulkhead(int max) : max_(max) {}
    /// One slot, or false when none freed within `wait`. Runs on the caller's executor.
    boost::asio::awaitable<bool> enter(std::chrono::milliseconds wait);
    /// Non-waiting attempt.
    bool try_enter();
    /// Frees a slot taken by enter/try_enter.
    void leave() { active_.fetch_sub(1); }
    int active() const { return active_.load(); }

private:
    int max_;
    std::atomic<int> active_{0};
};

/// The breaker, bulkhead and metrics of one route.
struct RouteResilience {
    RouteResilience(std::string id, const ResiliencePolicy& p) : route_id(std::move(id)), policy(p), breaker(p), bulkhead(p.bulkhead_max) {}
    std::string route_id;
    ResiliencePolicy policy;
    CircuitBreaker breaker;
    Bulkhead bulkhead;
    Counter* success = nullptr;         ///< gateway_resilience_calls_total{route,outcome}
    Counter* failure = nullptr;
    Counter* timeout = nullptr;
    Counter* short_circuited = nullptr;
    Counter* bulkhead_full = nullptr;
    Counter* retried = nullptr;
};

/// Every route's RouteResilience, created on first use. Thread-safe.
class ResilienceRegistry {
public:
    /// `metrics` may be null.
    ResilienceRegistry(ResilienceConfig config, MetricsRegistry* metrics);
    const ResilienceConfig& config() const { return config_; }
    /// The route's state (stable address).
    RouteResilience& route(const std::string& route_id);

private:
    ResilienceConfig config_;
    CounterFamily* calls_ = nullptr;
    GaugeFamily* state_ = nullptr;
    std::mutex mutex_;
    std::map<std::string, std::unique_ptr<RouteResilience>, std::less<>> routes_;
};

}  // namespace lt::gateway
