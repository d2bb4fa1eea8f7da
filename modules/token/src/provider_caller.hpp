#pragma once
/// ProviderCaller: the token module's calls to providers over the bus (`provider.chat.v1`), with a
/// deadline over all attempts, retries, and per provider a circuit breaker and a bulkhead
/// (seed-behavior.md §4.8, per provider instead of one shared instance).

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "lt/bus/bus.hpp"
#include "lt/providers/providers.hpp"
#include "lt/core/log.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/result.hpp"
#include "token_config.hpp"

namespace lt::token {

/// Count-based circuit breaker. Thread-safe.
class CircuitBreaker {
public:
    enum class State { closed, open, half_open };
    explicit CircuitBreaker(const ResilienceConfig& config) : config_(config) {}

    /// May a call start now? Open → no until the open duration passed; then one probe at a time.
    bool allow(std::chrono::steady_clock::time_point now);
    /// Outcome of a call that allow() let through.
    void record(bool success, std::chrono::steady_clock::time_point now);
    /// A call that allow() let through ended without saying anything about the provider's health.
    void release();
    State state() const;

private:
    const ResilienceConfig& config_;
    mutable std::mutex mutex_;  ///< guards everything below
    State state_ = State::closed;
    std::deque<bool> window_;   ///< most recent outcomes, true = failure
    std::chrono::steady_clock::time_point open_until_{};
    bool probe_in_flight_ = false;
};

class ProviderCaller {
public:
    ProviderCaller(bus::Bus& bus, ResilienceConfig config, Logger log, MetricsRegistry* metrics);
    /// Empties the circuit-state metric family that reads this object.
    ~ProviderCaller();

    /// Calls `provider` with `body`. Any failure (error, timeout, open circuit, bulkhead full) is an
    /// error; Errc::invalid_argument (unknown provider) is never retried.
    boost::asio::awaitable<Result<boost::json::object>> call(std::string provider, boost::json::object body, bus::Context ctx);

    /// One OpenAI-style completion (`provider.completion.v1`, request/reply shapes in
    /// lt/providers/providers.hpp) with the same deadline, retries, breaker and bulkhead as call().
    boost::asio::awaitable<Result<boost::json::object>> complete(std::string provider, boost::json::object request,
                                                                 bus::Context ctx);

    /// Opens a streamed completion (`provider.completion.open.v1`) with the same retries, breaker and
    /// bulkhead; the deadline is the caller's (the provider's first-byte timeout bounds the wait)
    /// instead of token.provider.timeout. The bulkhead slot is held until the stream is open.
    boost::asio::awaitable<Result<boost::json::object>> open_stream(std::string provider, boost::json::object request,
                                                                    bus::Context ctx);
    /// The next batch of a stream session (`provider.completion.next.v1`); no retries. `wait`: the
    /// provider's idle timeout (the bus deadline is set a little past it).
    boost::asio::awaitable<Result<boost::json::object>> stream_next(std::string session, std::chrono::milliseconds wait,
                                                                    bus::Context ctx);
    /// Stops a stream session (`provider.completion.close.v1`); errors are ignored.
    boost::asio::awaitable<void> stream_close(std::string session, bus::Context ctx);
    /// Records a stream's end in the provider's breaker (a mid-stream failure counts as a failure).
    void record_stream(const std::string& provider, bool success);

    /// The breaker of a provider (created on first use).
    CircuitBreaker& breaker(const std::string& provider);

private:
    struct PerProvider {
        explicit PerProvider(const ResilienceConfig& c) : breaker(c) {}
        CircuitBreaker breaker;
        std::atomic<int> in_flight{0};
    };
    PerProvider& get(const std::string& provider);
    /// One attempt: a bus call whose error (including a reply that does not decode) counts as failed.
    using Attempt = std::function<boost::asio::awaitable<Result<boost::json::object>>(bus::Context)>;
    /// The resilient attempt loop around one bus command; `caller_deadline`: the caller's deadline
    /// instead of token.provider.timeout.
    boost::asio::awaitable<Result<boost::json::object>> invoke(std::string provider, Attempt once, bus::Context ctx,
                                                               bool caller_deadline = false);
    boost::asio::awaitable<Result<boost::json::object>> chat_once(providers::ChatRequest req, bus::Context ctx);
    boost::asio::awaitable<Result<boost::json::object>> complete_once(providers::CompletionRequest req, bus::Context ctx);
    boost::asio::awaitable<Result<boost::json::object>> open_once(providers::CompletionRequest req, bus::Context ctx);

    bus::Bus& bus_;
    ResilienceConfig config_;
    Logger log_;
    MetricsRegistry* metrics_;
    std::mutex mutex_;  ///< guards providers_ (entries are never removed)
    std::map<std::string, std::unique_ptr<PerProvider>> providers_;
};

}  // namespace lt::token
