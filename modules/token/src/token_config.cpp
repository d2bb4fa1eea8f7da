#include "token_config.hpp"

#include "lt/core/time.hpp"
#include "lt/token/token.hpp"

namespace lt::token {

void describe_config(config::Schema& s) {
    using config::Type;
    s.add({"token.bucket.capacity", Type::integer, "Bucket capacity in tokens (before tier multipliers).", 1, 1e9});
    s.add({"token.bucket.leak-rate-per-second", Type::number, "Leak (or refill) rate in tokens per second.", 0.0001});
    s.add({"token.bucket.window-seconds", Type::integer, "Window length of the FIXED_WINDOW strategy.", 1});
    s.add({"token.bucket.strategy", Type::enumeration, "Rate limiter algorithm.", {}, {},
           {"LEAKY_BUCKET", "TOKEN_BUCKET", "FIXED_WINDOW"}});
    s.add({"token.bucket.entry-ttl", Type::duration, "Idle time after which a bucket is forgotten.", 1000});
    s.add({"token.bucket.cleanup-interval", Type::duration, "How often expired buckets are purged.", 1000});
    s.add({"token.quota.enabled", Type::boolean, "Apply the per-window allowance reset."});
    s.add({"token.quota.window", Type::duration, "Length of a quota window (the allowance refills lazily after it).", 0});
    s.add({"token.quota.default-allowance.*", Type::integer,
           "Allowance per window given to a user's new pool for this provider (0: no pool until allocated or purchased).", 0});
    s.add({"token.quota.reservation", Type::enumeration,
           "Where quota reservations are decided: process (this process's memory, one process only), shared (the SQL "
           "store, any number of processes), auto (shared when storage.sql.driver is postgres).", {}, {},
           {"auto", "process", "shared"}});
    s.add({"token.quota.reservation-timeout", Type::duration,
           "Shared mode: a reservation neither settled nor released within this time is refunded (its process died).",
           1000});
    s.add({"token.commit.max-batch", Type::integer, "Quota debits and outbox rows committed per SQL transaction at most.", 1});
    s.add({"token.commit.lanes", Type::integer,
           "Shared mode on PostgreSQL: group-commit lanes (one connection each) for the units that lock a pool row.", 1});
    s.add({"token.commit.durable-lanes", Type::integer,
           "Shared mode on PostgreSQL: lanes of their own for the durable units that lock no pool row (0: none).", 0});
    s.add({"token.tiers.default-tier", Type::string, "Tier of principals whose roles match no level."});
    s.add({"token.tiers.levels.*.priority", Type::integer, "Higher wins when several roles match.", 0});
    s.add({"token.tiers.levels.*.bucket-capacity-multiplier", Type::number, "Bucket capacity multiplier.", 0.0001, 4});
    s.add({"token.tiers.levels.*.bucket-leak-rate-multiplier", Type::number, "Leak rate multiplier.", 0.0001});
    s.add({"token.tiers.levels.*.quota-max-tokens", Type::integer, "Cap of a user pool's allowance (unset: none).", 0});
    s.add({"token.provider.timeout", Type::duration, "Deadline of a provider call, all attempts included.", 1});
    s.add({"token.provider.retry.max-attempts", Type::integer, "Attempts per provider call.", 1, 10});
    s.add({"token.provider.retry.wait", Type::duration, "Pause between attempts.", 0});
    s.add({"token.provider.circuit-breaker.sliding-window-size", Type::integer, "Calls remembered per provider.", 1});
    s.add({"token.provider.circuit-breaker.minimum-number-of-calls", Type::integer, "Calls before the failure rate counts.", 1});
    s.add({"token.provider.circuit-breaker.failure-rate-threshold", Type::number, "Failure percentage that opens the circuit.", 1, 100});
    s.add({"token.provider.circuit-breaker.wait-duration-in-open-state", Type::duration, "How long an open circuit refuses calls.", 1});
    s.add({"token.provider.bulkhead.max-concurrent-calls", Type::integer, "Concurrent calls per provider; more fail at once.", 1});
    s.add({"feature.flags.token-service.quota-enforcement", Type::boolean, "Check and debit quota pools on consume."});
    s.add({"feature.flags.token-service.saga-purchases", Type::boolean, "Accept token purchases (purchase saga)."});
    s.add({"token.saga.simulate-failure", Type::boolean, "Fail every purchase after its payment step (compensation path)."});
    s.add({"token.saga.recovery.enabled", Type::boolean, "Run the job that finishes or compensates stale sagas."});
    s.add({"token.saga.recovery.stale-minutes", Type::integer, "Age in minutes after which an unfinished saga is recovered.", 0});
    s.add({"token.saga.recovery.fixed-delay-ms", Type::integer, "Pause between two recovery passes in milliseconds.", 10});
    s.add({"token.saga.recovery.lease", Type::duration,
           "How long the process that claimed an interrupted saga owns its recovery (others skip it).", 1000});
    s.add({"token.saga.payment.failure-rate", Type::number, "Probability that the simulated payment provider declines.", 0, 1});
    s.add({"token.saga.payment.latency", Type::duration, "Added latency of each simulated payment call.", 0, 60000});
    s.add({"token.saga.compensation.group", Type::string, "Consumer group that applies PAYMENT_RELEASE_REQUESTED events."});
    s.add({"token.saga.fault-injection.crash-after", Type::enumeration,
           "TESTS ONLY: kill the process right after the step that commits this status.", {}, {},
           {"NONE", "STARTED", "PAYMENT_RESERVED", "TOKENS_ALLOCATED"}});
    describe_outbox_config(s);
}

LiveSettings parse_live(const config::Config& c) {
    LiveSettings t;
    t.bucket.capacity = c.get_int("token.bucket.capacity", t.bucket.capacity);
    t.bucket.rate_per_second = c.get_double("token.bucket.leak-rate-per-second", t.bucket.rate_per_second);
    t.bucket.window_seconds = c.get_int("token.bucket.window-seconds", t.bucket.window_seconds);
    if (auto s = parse_strategy(c.get_string("token.bucket.strategy", "LEAKY_BUCKET"))) t.bucket.strategy = *s;
    t.quota_enforcement = c.get_bool("feature.flags.token-service.quota-enforcement", true);
    t.tiers.default_tier = to_upper(c.get_string("token.tiers.default-tier", "USER"));
    for (const auto& name : c.children("token.tiers.levels")) {
        std::string p = "token.tiers.levels." + name + ".";
        TierLevel l;
        l.name = to_upper(name);
        l.priority = c.get_int(p + "priority", 0);
        l.capacity_multiplier = c.get_double(p + "bucket-capacity-multiplier", 1.0);
        l.leak_rate_multiplier = c.get_double(p + "bucket-leak-rate-multiplier", 1.0);
        if (c.has(p + "quota-max-tokens")) l.quota_max_tokens = c.get_int(p + "quota-max-tokens", 0);
        t.tiers.levels[l.name] = l;
    }
    t.saga_enabled = c.get_bool("feature.flags.token-service.saga-purchases", true);
    return t;
}

bool is_live_key(std::string_view k) {
    return k == "token.bucket.capacity" || k == "token.bucket.leak-rate-per-second" ||
           k == "token.bucket.window-seconds" || k == "token.bucket.strategy" || k.starts_with("token.tiers.") ||
           k.starts_with("feature.flags.token-service.");
}

ResilienceConfig parse_resilience(const config::Config& c) {
    ResilienceConfig r;
    r.timeout = c.get_duration("token.provider.timeout", r.timeout);
    r.max_attempts = static_cast<int>(c.get_int("token.provider.retry.max-attempts", r.max_attempts));
    r.retry_wait = c.get_duration("token.provider.retry.wait", r.retry_wait);
    r.window_size = static_cast<int>(c.get_int("token.provider.circuit-breaker.sliding-window-size", r.window_size));
    r.minimum_calls = static_cast<int>(c.get_int("token.provider.circuit-breaker.minimum-number-of-calls", r.minimum_calls));
    r.failure_rate_threshold = c.get_double("token.provider.circuit-breaker.failure-rate-threshold", r.failure_rate_threshold);
    r.open_duration = c.get_duration("token.provider.circuit-breaker.wait-duration-in-open-state", r.open_duration);
    r.max_concurrent_calls = static_cast<int>(c.get_int("token.provider.bulkhead.max-concurrent-calls", r.max_concurrent_calls));
    return r;
}

bool is_resilience_key(std::string_view k) { return k.starts_with("token.provider."); }

Result<TokenConfig> parse_config(const config::Config& c) {
    TokenConfig t;
    t.live_box->set(parse_live(c));
    t.bucket_entry_ttl = c.get_duration("token.bucket.entry-ttl", t.bucket_entry_ttl);
    t.bucket_cleanup_interval = c.get_duration("token.bucket.cleanup-interval", t.bucket_cleanup_interval);
    t.quota_window_enabled = c.get_bool("token.quota.enabled", true);
    t.quota_window = c.get_duration("token.quota.window", t.quota_window);
    for (const auto& p : c.children("token.quota.default-allowance")) {
        t.default_allowance[to_lower(p)] = c.get_int("token.quota.default-allowance." + p, 0);
    }
    const auto reservation = to_lower(c.get_string("token.quota.reservation", "auto"));
    t.quota_shared = reservation == "shared" ||
                     (reservation == "auto" && to_lower(c.get_string("storage.sql.driver", "sqlite")) == "postgres");
    t.reservation_timeout = c.get_duration("token.quota.reservation-timeout", t.reservation_timeout);
    t.commit_max_batch = static_cast<std::size_t>(c.get_int("token.commit.max-batch", 256));
    t.commit_lanes = static_cast<std::size_t>(c.get_int("token.commit.lanes", static_cast<std::int64_t>(t.commit_lanes)));
    t.commit_durable_lanes =
        static_cast<std::size_t>(c.get_int("token.commit.durable-lanes", static_cast<std::int64_t>(t.commit_durable_lanes)));
    t.provider = parse_resilience(c);
    t.saga.simulate_failure = c.get_bool("token.saga.simulate-failure", false);
    t.saga.stale_after = std::chrono::minutes(c.get_int("token.saga.recovery.stale-minutes", 10));
    t.saga.recovery_lease = c.get_duration("token.saga.recovery.lease", t.saga.recovery_lease);
    t.saga_recovery_enabled = c.get_bool("token.saga.recovery.enabled", true);
    t.saga_recovery_delay = std::chrono::milliseconds(c.get_int("token.saga.recovery.fixed-delay-ms", 60000));
    t.payment.failure_rate = c.get_double("token.saga.payment.failure-rate", 0.0);
    t.payment.latency = c.get_duration("token.saga.payment.latency", t.payment.latency);
    t.compensation_group = c.get_string("token.saga.compensation.group", t.compensation_group);
    auto crash = to_upper(c.get_string("token.saga.fault-injection.crash-after", "NONE"));
    if (crash != "NONE") t.saga.crash_after = parse_saga_status(crash);
    auto outbox = parse_outbox_config(c);
    if (!outbox) return fail(outbox.error());
    t.outbox = std::move(*outbox);
    return t;
}

}  // namespace lt::token
