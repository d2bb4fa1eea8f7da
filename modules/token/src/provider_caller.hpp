#pragma once
/// ProviderCaller: the token module's calls to providers over the bus (`provider.chat.v1`), with a
/// deadline over all attempts, retries, and per provider a circuit breaker and a bulkhead
/// (seed-behavior.md §4.8, per provider instead of one shared instance).

#include <atomic>
#include <chrono>
#include <deque>
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

/// Count-based circuit breaker. Thread-safe. Its thresholds come with each outcome (the settings
/// snapshot of the call), so a refresh of token.provider.circuit-breaker.* applies to the next call.
class CircuitBreaker {
public:
    enum class State { closed, open, half_open };

    /// May a call start now? Open → no until the open duration passed; then one probe at a time.
    bool allow(std::chrono::steady_clock::time_point now);
    /// Outcome of a call that allow() let through, judged by `config`'s window, minimum calls,
    /// threshold and open duration.
    void record(bool success, std::chrono::steady_clock::time_point now, const ResilienceConfig& config);
    /// A call that allow() let through ended without saying anything about the provider's health.
    void release();
    State state() const;

private:
    mutable std::mutex mutex_;  ///< guards everything below
    State state_ = State::closed;
    std::deque<bool> window_;   ///< most recent outcomes, true = failure
    std::chrono::steady_clock::time_point open_until_{};
    bool probe_in_flight_ = false;
};

/// Thread-safe: called from any I/O thread.
class ProviderCaller {
public:
    ProviderCaller(bus::Bus& bus, ResilienceConfig config, Logger log, MetricsRegistry* metrics);
    /// Empties the circuit-state metric family that reads this object.
    ~ProviderCaller();

    /// Replaces the resilience settings (token.provider.*, POST /actuator/refresh). Calls already
    /// running keep the settings they started with; breakers keep their state. Any thread.
    void set_config(ResilienceConfig config);
    /// The resilience settings in force now. Any thread.
    std::shared_ptr<const ResilienceConfig> config() const { return config_.load(); }

    /// Calls `provider` with `body` ({"prompt": ...}) and returns the provider's response object.
    /// Any failure (error, timeout, open circuit, bulkhead full) is an error; Errc::invalid_argument
    /// (unknown provider) is never retried.
    boost::asio::awaitable<Result<boost::json::object>> call(std::string provider, boost::json::object body, bus::Context ctx);

    /// One OpenAI-style completion (`provider.completion.v1`) of `request.provider` with the same
    /// deadline, retries, breaker and bulkhead as call().
    boost::asio::awaitable<Result<providers::CompletionReply>> complete(providers::CompletionRequest request,
                                                                        bus::Context ctx);

    /// Opens a streamed completion (`provider.completion.open.v1`) with the same retries, breaker and
    /// bulkhead; the deadline is the caller's (the provider's first-byte timeout bounds the wait)
    /// instead of token.provider.timeout. The bulkhead slot is held until the stream is open.
    boost::asio::awaitable<Result<providers::StreamOpenReply>> open_stream(providers::CompletionRequest request,
                                                                           bus::Context ctx);
    /// The next batch of a stream session (`provider.completion.next.v1`); no retries. `wait`: the
    /// provider's idle timeout (the bus deadline is set a little past it).
    boost::asio::awaitable<Result<providers::StreamBatch>> stream_next(std::string session, std::chrono::milliseconds wait,
                                                                       bus::Context ctx);
    /// Stops a stream session (`provider.completion.close.v1`); errors are ignored.
    boost::asio::awaitable<void> stream_close(std::string session, bus::Context ctx);
    /// Records a stream's end in the provider's breaker (a mid-stream failure counts as a failure).
    void record_stream(const std::string& provider, bool success);

    /// The breaker of a provider (created on first use).
    CircuitBreaker& breaker(const std::string& provider);

private:
    struct PerProvider {
        CircuitBreaker breaker;
        std::atomic<int> in_flight{0};
    };
    PerProvider& get(const std::string& provider);
    /// The resilient attempt loop around one bus command `cmd` with request `req`: deadline over all
    /// attempts, retries, breaker and bulkhead of `provider`; `caller_deadline`: the caller's deadline
    /// instead of token.provider.timeout. Defined in the .cpp (used there only).
    template <class Req, class Rep>
    boost::asio::awaitable<Result<Rep>> invoke(std::string provider, bus::Command<Req, Rep> cmd, Req req,
                                               bus::Context ctx, bool caller_deadline = false);

    bus::Bus& bus_;
    std::atomic<std::shared_ptr<const ResilienceConfig>> config_;
    Logger log_;
    MetricsRegistry* metrics_;
    std::mutex mutex_;  ///< guards providers_ (entries are never removed)
    std::map<std::string, std::unique_ptr<PerProvider>> providers_;
};

}  // namespace lt::token
