#include "provider_caller.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "lt/providers/providers.hpp"

namespace asio = boost::asio;

namespace lt::token {

bool CircuitBreaker::allow(std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (state_ == State::closed) return true;
    if (state_ == State::open) {
        if (now < open_until_) return false;
        state_ = State::half_open;
        probe_in_flight_ = false;
    }
    if (probe_in_flight_) return false;
    probe_in_flight_ = true;
    return true;
}

void CircuitBreaker::record(bool success, std::chrono::steady_clock::time_point now, const ResilienceConfig& config) {
    std::lock_guard lock(mutex_);
    if (state_ == State::half_open) {
        probe_in_flight_ = false;
        if (success) {
            state_ = State::closed;
            window_.clear();
        } else {
            state_ = State::open;
            open_until_ = now + config.open_duration;
        }
        return;
    }
    if (state_ == State::open) return;
    window_.push_back(!success);
    while (static_cast<int>(window_.size()) > config.window_size) window_.pop_front();
    if (static_cast<int>(window_.size()) < config.minimum_calls) return;
    auto failures = std::count(window_.begin(), window_.end(), true);
    if (100.0 * static_cast<double>(failures) / static_cast<double>(window_.size()) >= config.failure_rate_threshold) {
        state_ = State::open;
        open_until_ = now + config.open_duration;
        window_.clear();
    }
}

void CircuitBreaker::release() {
    std::lock_guard lock(mutex_);
    if (state_ == State::half_open) probe_in_flight_ = false;
}

CircuitBreaker::State CircuitBreaker::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

ProviderCaller::ProviderCaller(bus::Bus& bus, ResilienceConfig config, Logger log, MetricsRegistry* metrics)
    : bus_(bus), config_(std::make_shared<const ResilienceConfig>(config)), log_(std::move(log)), metrics_(metrics) {
    if (metrics_) {
        // One family for every provider (not one metric name per provider): 0 closed, 1 open, 2 half-open.
        metrics_->callback_family("token_provider_circuit_state",
                                  "Circuit breaker state per provider: 0 closed, 1 open (refusing calls), 2 half-open",
                                  MetricType::gauge, {"provider"}, [this] {
                                      std::vector<CallbackSample> out;
                                      std::lock_guard lock(mutex_);
                                      for (const auto& [name, p] : providers_) {
                                          const auto st = p->breaker.state();
                                          const double v = st == CircuitBreaker::State::open        ? 1.0
                                                           : st == CircuitBreaker::State::half_open ? 2.0
                                                                                                    : 0.0;
                                          out.push_back({{name}, v});
                                      }
                                      return out;
                                  });
    }
}

ProviderCaller::~ProviderCaller() {
    // The callback reads this object: replace it with an empty one before this object goes.
    if (metrics_) {
        metrics_->callback_family("token_provider_circuit_state",
                                  "Circuit breaker state per provider: 0 closed, 1 open (refusing calls), 2 half-open",
                                  MetricType::gauge, {"provider"}, [] { return std::vector<CallbackSample>{}; });
    }
}

void ProviderCaller::set_config(ResilienceConfig config) {
    config_.store(std::make_shared<const ResilienceConfig>(std::move(config)));
}

ProviderCaller::PerProvider& ProviderCaller::get(const std::string& provider) {
    std::lock_guard lock(mutex_);
    auto& p = providers_[provider];
    if (!p) p = std::make_unique<PerProvider>();
    return *p;
}

CircuitBreaker& ProviderCaller::breaker(const std::string& provider) { return get(provider).breaker; }

template <class Req, class Rep>
asio::awaitable<Result<Rep>> ProviderCaller::invoke(std::string provider, bus::Command<Req, Rep> cmd, Req req,
                                                    bus::Context ctx, bool caller_deadline) {
    const auto config = config_.load();  // this call's settings, whatever a refresh does meanwhile
    auto& p = get(provider);
    if (p.in_flight.fetch_add(1) >= config->max_concurrent_calls) {
        p.in_flight.fetch_sub(1);
        co_return fail(Errc::unavailable, "provider bulkhead full");
    }
    struct Release {
        std::atomic<int>& n;
        ~Release() { n.fetch_sub(1); }
    } release{p.in_flight};

    auto deadline = std::chrono::steady_clock::now() + config->timeout;
    if (ctx.deadline < deadline || caller_deadline) deadline = ctx.deadline;
    ctx.deadline = deadline;
    Error last{Errc::unavailable, "provider call failed"};
    for (int attempt = 1; attempt <= config->max_attempts; ++attempt) {
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) co_return fail(Errc::timeout, "provider call timed out");
        if (!p.breaker.allow(now)) co_return fail(Errc::unavailable, "provider circuit open");
        Req copy = req;  // the request of one attempt (a retry sends it again)
        auto op = bus_.call(cmd, std::move(copy), ctx);
        auto reply = co_await std::move(op);
        if (reply) {
            p.breaker.record(true, std::chrono::steady_clock::now(), *config);
            co_return std::move(*reply);
        }
        last = reply.error();
        if (last.code == Errc::invalid_argument || last.code == Errc::rate_limited) {
            p.breaker.release();  // unknown provider, or the upstream's own 429: passed on, never retried
            co_return fail(last);
        }
        p.breaker.record(false, std::chrono::steady_clock::now(), *config);
        if (attempt < config->max_attempts && std::chrono::steady_clock::now() + config->retry_wait < deadline) {
            asio::steady_timer t(co_await asio::this_coro::executor);
            t.expires_after(config->retry_wait);
            boost::system::error_code ec;
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        } else {
            break;
        }
    }
    co_return fail(last);
}

asio::awaitable<Result<boost::json::object>> ProviderCaller::call(std::string provider, boost::json::object body,
                                                                  bus::Context ctx) {
    providers::ChatRequest req{provider, std::move(body)};
    auto op = invoke(std::move(provider), providers::kChat, std::move(req), std::move(ctx));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(reply.error());
    co_return std::move(reply->response);
}

asio::awaitable<Result<providers::CompletionReply>> ProviderCaller::complete(providers::CompletionRequest request,
                                                                             bus::Context ctx) {
    std::string provider = request.provider;
    auto op = invoke(std::move(provider), providers::kCompletion, std::move(request), std::move(ctx));
    co_return co_await std::move(op);
}

asio::awaitable<Result<providers::StreamOpenReply>> ProviderCaller::open_stream(providers::CompletionRequest request,
                                                                                bus::Context ctx) {
    std::string provider = request.provider;
    auto op = invoke(std::move(provider), providers::kStreamOpen, std::move(request), std::move(ctx), true);
    co_return co_await std::move(op);
}

asio::awaitable<Result<providers::StreamBatch>> ProviderCaller::stream_next(std::string session,
                                                                            std::chrono::milliseconds wait,
                                                                            bus::Context ctx) {
    ctx.deadline = std::chrono::steady_clock::now() + wait + std::chrono::seconds(5);
    auto op = bus_.call(providers::kStreamNext, providers::StreamRef{std::move(session)}, std::move(ctx));
    co_return co_await std::move(op);
}

asio::awaitable<void> ProviderCaller::stream_close(std::string session, bus::Context ctx) {
    ctx.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    auto op = bus_.call(providers::kStreamClose, providers::StreamRef{std::move(session)}, std::move(ctx));
    (void)co_await std::move(op);
}

void ProviderCaller::record_stream(const std::string& provider, bool success) {
    auto& p = get(provider);
    auto now = std::chrono::steady_clock::now();
    if (p.breaker.state() == CircuitBreaker::State::closed) p.breaker.record(success, now, *config_.load());
}

}  // namespace lt::token
