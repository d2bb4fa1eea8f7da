#include "analytics_module.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "lt/analytics/analytics.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/ports/event_log.hpp"
#include "lt/ports/usage_store.hpp"

namespace asio = boost::asio;

namespace lt::analytics {

namespace {

/// Rows deleted per purge transaction, so that a large backlog never holds the database for long.
constexpr std::size_t kPurgeChunk = 5000;

/// Deletes what is past retention, chunk by chunk, on the blocking pool; logs the outcome.
Result<std::size_t> purge_now(ports::UsageStore& store, ports::UsageTime now, const AnalyticsConfig& config) {
    std::size_t total = 0;
    // Compaction in small transactions, so that the consumers' batches get the database in between
    // (a long stall lets the in-memory event log, and RSS, grow).
    constexpr std::size_t kCompactChunk = 1000;
    while (config.compact_after.count() > 0) {
        auto n = store.compact_usage(now - config.compact_after, kCompactChunk);
        if (!n) return fail(n.error());
        total += *n;
        if (*n == 0) break;
    }
    for (;;) {
        auto n = store.purge(now - config.raw_retention, now - config.rollup_retention, kPurgeChunk);
        if (!n) return fail(n.error());
        total += *n;
        if (*n == 0) return total;
    }
}

asio::awaitable<void> purge_loop(asio::steady_timer* timer, ModuleContext* ctx, const AnalyticsConfig* config) {
    for (;;) {
        // Compaction keeps up with the load in small steps: at least twelve runs per horizon.
        auto every = config->purge_interval;
        if (config->compact_after.count() > 0) {
            every = std::min(every, std::max(config->compact_after / 12, std::chrono::milliseconds(1000)));
        }
        timer->expires_after(every);
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        auto* store = ctx->usage;
        const auto now = ctx->clock->now();
        auto op = ctx->blocking->run([store, now, config] { return purge_now(*store, now, *config); });
        auto purged = co_await std::move(op);
        if (!purged) {
            ctx->log->error("analytics purge failed error={}", purged.error().message);
        } else if (*purged > 0) {
            ctx->log->info("analytics purge done rows={}", *purged);
        }
    }
}

}  // namespace

AnalyticsModule::AnalyticsModule(ModuleContext ctx, AnalyticsConfig config)
    : ctx_(std::move(ctx)), config_(std::move(config)) {
    if (ctx_.metrics) {
        usage_total_ = &ctx_.metrics->counter("analytics_usage_query_total", "Usage queries by provider and outcome",
                                              {"provider", "outcome"});
        report_total_ = &ctx_.metrics->counter("analytics_report_query_total", "Report queries by provider and outcome",
                                               {"provider", "outcome"});
        anomaly_total_ = &ctx_.metrics->counter("analytics_anomaly_query_total",
                                                "Anomaly queries by provider and outcome", {"provider", "outcome"});
    }
}

AnalyticsModule::~AnalyticsModule() {
    // Normally stopped already; joining here keeps a consumer thread from outliving the ingestor.
    for (auto& c : consumers_) c->stop();
}


asio::awaitable<Result<void>> AnalyticsModule::start() {
    auto* store = ctx_.usage;
    auto op = ctx_.blocking->run([store] { return store->migrate(); });
    auto migrated = co_await std::move(op);
    if (!migrated) co_return fail(migrated.error());

    service_ = std::make_unique<AnalyticsService>(*ctx_.usage, *ctx_.clock, config_.limits);
    ingestor_ = std::make_unique<EventIngestor>(*ctx_.usage, ctx_.log, ctx_.metrics);
    if (config_.consume) {
        // One consumer group per topic (`<group>` for usage, `<group>-purchases` for purchases): a
        // Kafka group then never re-subscribes to a second topic while it is joining.
        const std::pair<std::string, std::string> feeds[] = {{config_.usage_topic, config_.group},
                                                              {config_.purchase_topic, config_.group + "-purchases"}};
        for (const auto& [topic, group] : feeds) {
            EventConsumerOptions options;
            options.topic = topic;
            options.group = group;
            options.max_batch = config_.max_batch;
            auto* ingestor = ingestor_.get();
            consumers_.push_back(std::make_unique<EventConsumer>(
                *ctx_.events, options,
                EventConsumer::BatchHandler(
                    [ingestor](std::span<const ports::EventRecord> batch) { return ingestor->handle(batch); }),
                ctx_.log));
            if (auto started = consumers_.back()->start(); !started) co_return fail(started.error());
        }
    }
    purge_timer_ = std::make_unique<asio::steady_timer>(*ctx_.io);
    asio::co_spawn(*ctx_.io, purge_loop(purge_timer_.get(), &ctx_, &config_), asio::detached);
    co_return ok();
}

asio::awaitable<void> AnalyticsModule::stop() {
    if (purge_timer_) purge_timer_->cancel();  // stop() runs on ctx_.io, the timer's own context
    // Joining waits up to one poll plus the batch in hand: not on an I/O thread.
    auto* consumers = &consumers_;
    auto op = ctx_.blocking->run([consumers] {
        for (auto& c : *consumers) c->stop();
        return 0;
    });
    co_await std::move(op);
}

Result<std::unique_ptr<Module>> make_module(ModuleContext ctx) {
    if (!ctx.usage || !ctx.blocking || !ctx.clock || !ctx.io) {
        return fail(Errc::internal, "analytics needs a usage store, a blocking pool, a clock and an io_context");
    }
    auto cfg = parse_config(*ctx.config);
    if (!cfg) return fail(cfg.error());
    if (cfg->consume && !ctx.events) return fail(Errc::internal, "analytics needs an event log to consume events");
    return std::unique_ptr<Module>(std::make_unique<AnalyticsModule>(std::move(ctx), std::move(*cfg)));
}

}  // namespace lt::analytics
