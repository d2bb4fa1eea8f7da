#include "resilience.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;

namespace lt::gateway {

namespace {

/// The keys below a prefix ("gateway.resilience." or "gateway.resilience.routes.*."), one list for
/// the schema and the parser.
struct PolicyKey {
    const char* suffix;
    config::Type type;
    const char* description;
    double min;
};

constexpr PolicyKey kPolicyKeys[] = {
    {"circuit-breaker.sliding-window-size", config::Type::integer, "Calls in the count-based sliding window", 1},
    {"circuit-breaker.minimum-number-of-calls", config::Type::integer,
     "Calls recorded before the failure rate can open the circuit", 1},
    {"circuit-breaker.failure-rate-threshold", config::Type::number,
     "Failure percentage (of the window) at which the circuit opens", 1},
    {"circuit-breaker.wait-duration-in-open-state", config::Type::duration,
     "How long an open circuit answers the 503 fallback before letting trial calls through", 1},
    {"circuit-breaker.permitted-calls-in-half-open-state", config::Type::integer,
     "Trial calls of a half-open circuit; their failure rate closes or reopens it", 1},
    {"bulkhead.max-concurrent-calls", config::Type::integer, "Calls in flight to the route at once", 1},
    {"bulkhead.max-wait-duration", config::Type::duration,
     "How long a call waits for a bulkhead slot before the 503 fallback", 0},
    {"timeout", config::Type::duration, "Deadline of one call until the downstream's response head arrives", 1},
    {"retry.max-attempts", config::Type::integer,
     "Attempts of an idempotent call (GET, HEAD, PUT, DELETE, OPTIONS) that found no downstream or timed out", 1},
    {"retry.wait-duration", config::Type::duration, "Wait between attempts", 0},
};

void read_policy(const config::Config& c, const std::string& prefix, ResiliencePolicy& p) {
    auto k = [&](const char* suffix) { return prefix + suffix; };
    p.sliding_window = static_cast<int>(c.get_int(k("circuit-breaker.sliding-window-size"), p.sliding_window));
    p.minimum_calls = static_cast<int>(c.get_int(k("circuit-breaker.minimum-number-of-calls"), p.minimum_calls));
    p.failure_rate = c.get_double(k("circuit-breaker.failure-rate-threshold"), p.failure_rate);
    p.open_for = c.get_duration(k("circuit-breaker.wait-duration-in-open-state"), p.open_for);
    p.half_open_calls =
        static_cast<int>(c.get_int(k("circuit-breaker.permitted-calls-in-half-open-state"), p.half_open_calls));
    p.bulkhead_max = static_cast<int>(c.get_int(k("bulkhead.max-concurrent-calls"), p.bulkhead_max));
    p.bulkhead_wait = c.get_duration(k("bulkhead.max-wait-duration"), p.bulkhead_wait);
    p.timeout = c.get_duration(k("timeout"), p.timeout);
    p.retry_attempts = static_cast<int>(c.get_int(k("retry.max-attempts"), p.retry_attempts));
    p.retry_wait = c.get_duration(k("retry.wait-duration"), p.retry_wait);
}

}  // namespace

const ResiliencePolicy& ResilienceConfig::policy(const std::string& route_id) const {
    auto it = routes.find(route_id);
    return it == routes.end() ? defaults : it->second;
}

void describe_resilience_config(config::Schema& s) {
    s.add({"gateway.resilience.enabled", config::Type::boolean,
           "Circuit breaker, bulkhead, timeout and retry per downstream route (routes hosted in another process)"});
    for (const auto& k : kPolicyKeys) {
        s.add({std::string("gateway.resilience.") + k.suffix, k.type, k.description, k.min});
        s.add({std::string("gateway.resilience.routes.*.") + k.suffix, k.type,
               std::string(k.description) + " (this route)", k.min});
    }
}

ResilienceConfig parse_resilience_config(const config::Config& c) {
    ResilienceConfig out;
    out.enabled = c.get_bool("gateway.resilience.enabled", out.enabled);
    read_policy(c, "gateway.resilience.", out.defaults);
    for (const auto& route : c.children("gateway.resilience.routes")) {
        ResiliencePolicy p = out.defaults;
        read_policy(c, "gateway.resilience.routes." + route + ".", p);
        out.routes.emplace(route, p);
    }
    return out;
}

CircuitBreaker::Permit CircuitBreaker::try_acquire(std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (state_ == State::open) {
        if (now < open_until_) return {};
        transition(State::half_open, now);
    }
    if (state_ == State::half_open) {
        if (half_open_started_ >= policy_.half_open_calls) return {};
        ++half_open_started_;
    }
    return {true, generation_};
}

void CircuitBreaker::record(const Permit& p, bool success, std::chrono::steady_clock::time_point now) {
    if (!p.allowed) return;
    std::lock_guard lock(mutex_);
    if (p.generation != generation_) return;  // started in an earlier state
    if (state_ == State::half_open) {
        ++half_open_done_;
        if (!success) ++half_open_failures_;
        if (half_open_done_ >= policy_.half_open_calls) {
            double rate = 100.0 * half_open_failures_ / half_open_done_;
            transition(rate >= policy_.failure_rate ? State::open : State::closed, now);
        }
        return;
    }
    if (state_ != State::closed) return;
    auto& slot = ring_[next_];
    if (recorded_ == ring_.size()) failures_ -= slot;
    else ++recorded_;
    slot = success ? 0 : 1;
    failures_ += slot;
    next_ = (next_ + 1) % ring_.size();
    const auto needed = static_cast<std::size_t>(std::min<int>(policy_.minimum_calls, static_cast<int>(ring_.size())));
    if (recorded_ >= needed && 100.0 * static_cast<double>(failures_) / static_cast<double>(recorded_) >= policy_.failure_rate) {
        transition(State::open, now);
    }
}

void CircuitBreaker::transition(State s, std::chrono::steady_clock::time_point now) {
    state_ = s;
    ++generation_;
    half_open_started_ = half_open_done_ = half_open_failures_ = 0;
    if (s == State::open) open_until_ = now + policy_.open_for;
    if (s == State::closed) {
        std::fill(ring_.begin(), ring_.end(), 0);
        next_ = recorded_ = failures_ = 0;
    }
    if (on_transition_) on_transition_(s);
}

CircuitBreaker::State CircuitBreaker::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

std::chrono::steady_clock::time_point CircuitBreaker::open_until() const {
    std::lock_guard lock(mutex_);
    return open_until_;
}

bool Bulkhead::try_enter() {
    int cur = active_.load();
    while (cur < max_) {
        if (active_.compare_exchange_weak(cur, cur + 1)) return true;
    }
    return false;
}

asio::awaitable<bool> Bulkhead::enter(std::chrono::milliseconds wait) {
    if (try_enter()) co_return true;
    if (wait.count() <= 0) co_return false;
    const auto end = std::chrono::steady_clock::now() + wait;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    constexpr std::chrono::milliseconds kPoll{5};
    while (std::chrono::steady_clock::now() < end) {
        timer.expires_after(std::min<std::chrono::steady_clock::duration>(kPoll, end - std::chrono::steady_clock::now()));
        auto op = timer.async_wait(asio::as_tuple(asio::use_awaitable));
        co_await std::move(op);
        if (try_enter()) co_return true;
    }
    co_return false;
}

ResilienceRegistry::ResilienceRegistry(ResilienceConfig config, MetricsRegistry* metrics) : config_(std::move(config)) {
    if (metrics) {
        calls_ = &metrics->counter("gateway_resilience_calls_total",
                                   "Calls to downstream routes by outcome (success, failure, timeout, "
                                   "short_circuited, bulkhead_full, retried)",
                                   {"route", "outcome"});
        state_ = &metrics->gauge("gateway_circuit_state",
                                 "Circuit breaker state per downstream route (0 closed, 1 open, 2 half-open)", {"route"});
    }
}

RouteResilience& ResilienceRegistry::route(const std::string& route_id) {
    std::lock_guard lock(mutex_);
    auto it = routes_.find(route_id);
    if (it != routes_.end()) return *it->second;
    auto r = std::make_unique<RouteResilience>(route_id, config_.policy(route_id));
    if (calls_) {
        r->success = &calls_->labels({route_id, "success"});
        r->failure = &calls_->labels({route_id, "failure"});
        r->timeout = &calls_->labels({route_id, "timeout"});
        r->short_circuited = &calls_->labels({route_id, "short_circuited"});
        r->bulkhead_full = &calls_->labels({route_id, "bulkhead_full"});
        r->retried = &calls_->labels({route_id, "retried"});
    }
    if (state_) {
        Gauge* g = &state_->labels({route_id});
        g->set(0);
        r->breaker.on_transition([g](CircuitBreaker::State s) { g->set(static_cast<double>(static_cast<int>(s))); });
    }
    return *routes_.emplace(route_id, std::move(r)).first->second;
}

}  // namespace lt::gateway
