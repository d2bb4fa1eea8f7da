#pragma once
/// Typed configuration of the token module.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "limiter/rate_limiter.hpp"
#include "lt/core/config.hpp"
#include "lt/core/result.hpp"
#include "outbox/outbox_options.hpp"
#include "saga/payment.hpp"
#include "saga/purchase_saga.hpp"

namespace lt::token {

struct TierLevel {
    std::string name;
    std::int64_t priority = 0;
    double capacity_multiplier = 1.0;
    double leak_rate_multiplier = 1.0;
    std::optional<std::int64_t> quota_max_tokens;  ///< cap of a user pool's allowance
};

struct TiersConfig {
    std::string default_tier = "USER";
    std::map<std::string, TierLevel> levels;  ///< by upper-case name
};

struct ResilienceConfig {
    std::chrono::milliseconds timeout{2000};      ///< whole provider call, all attempts
    int max_attempts = 3;
    std::chrono::milliseconds retry_wait{250};
    int window_size = 20;                         ///< circuit breaker, count-based
    int minimum_calls = 10;
    double failure_rate_threshold = 50.0;         ///< percent
    std::chrono::milliseconds open_duration{10000};
    int max_concurrent_calls = 20;                ///< bulkhead per provider
};

/// The settings POST /actuator/refresh changes while the module runs: token.bucket.capacity,
/// leak-rate-per-second, window-seconds, strategy; token.tiers.*; feature.flags.token-service.*.
struct LiveSettings {
    BucketParams bucket{1000, 10.0, 60, Strategy::leaky_bucket};
    TiersConfig tiers;
    bool quota_enforcement = true;  ///< feature.flags.token-service.quota-enforcement
    bool saga_enabled = true;       ///< feature.flags.token-service.saga-purchases
};

/// The current LiveSettings, shared by every copy of a TokenConfig. Any thread.
class LiveBox {
public:
    std::shared_ptr<const LiveSettings> get() const { return value_.load(); }
    void set(LiveSettings s) { value_.store(std::make_shared<const LiveSettings>(std::move(s))); }

private:
    std::atomic<std::shared_ptr<const LiveSettings>> value_{std::make_shared<const LiveSettings>()};
};

struct TokenConfig {
    /// The refreshable settings in force: take one snapshot per request.
    std::shared_ptr<const LiveSettings> live() const { return live_box->get(); }
    std::shared_ptr<LiveBox> live_box = std::make_shared<LiveBox>();
    std::chrono::milliseconds bucket_entry_ttl{6 * 3600 * 1000};
    std::chrono::milliseconds bucket_cleanup_interval{30 * 60 * 1000};
    bool quota_window_enabled = true;
    std::chrono::milliseconds quota_window{24 * 3600 * 1000};
    std::map<std::string, std::int64_t> default_allowance;  ///< provider → tokens (0/absent: no pool)
    /// token.quota.reservation resolved: true = SharedQuotaLedger (one balance in SQL for every
    /// process), false = QuotaService (this process's memory).
    bool quota_shared = false;
    std::chrono::milliseconds reservation_timeout{60000};  ///< token.quota.reservation-timeout
    std::size_t commit_lanes = 2;          ///< token.commit.lanes (shared mode, PostgreSQL)
    std::size_t commit_durable_lanes = 1;  ///< token.commit.durable-lanes (shared mode, PostgreSQL)
    std::size_t commit_max_batch = 256;
    ResilienceConfig provider;
    SagaOptions saga;
    bool saga_recovery_enabled = true;
    std::chrono::milliseconds saga_recovery_delay{60000};
    SimulatedPaymentOptions payment;
    std::string compensation_group = "token-payments";
    OutboxOptions outbox;
};

Result<TokenConfig> parse_config(const config::Config& cfg);
/// The refreshable part of `cfg`.
LiveSettings parse_live(const config::Config& cfg);
/// True for a key parse_live() reads.
bool is_live_key(std::string_view key);
/// token.provider.* of `cfg` (timeout, retry, circuit breaker, bulkhead). Refreshable: ProviderCaller
/// takes a new one while it runs.
ResilienceConfig parse_resilience(const config::Config& cfg);
/// True for a key parse_resilience() reads (token.provider.*).
bool is_resilience_key(std::string_view key);

}  // namespace lt::token
