#include "token_module.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "lt/bus/bus.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/ports/key_value_store.hpp"
#include "lt/ports/sql_database.hpp"
#include "lt/token/token.hpp"

namespace asio = boost::asio;

namespace lt::token {

TokenModule::TokenModule(ModuleContext ctx, TokenConfig config) : ctx_(std::move(ctx)), config_(std::move(config)) {
    if (ctx_.metrics) {
        lookup_total_ = &ctx_.metrics->counter("token_quota_lookup_total", "Quota lookups by provider and outcome",
                                               {"provider", "outcome"});
    }
}

TokenModule::~TokenModule() = default;

std::vector<std::string> TokenModule::refresh(const config::Config& next, const std::vector<std::string>& changed) {
    std::vector<std::string> applied;
    bool live = false, resilience = false;
    for (const auto& k : changed) {
        if (is_live_key(k)) live = true;
        else if (is_resilience_key(k)) resilience = true;
        else continue;
        applied.push_back(k);
    }
    if (live) config_.live_box->set(parse_live(next));
    if (resilience) {
        // Only the caller reads them after start(): it swaps its snapshot, calls in flight keep theirs.
        if (providers_) providers_->set_config(parse_resilience(next));
        else config_.provider = parse_resilience(next);
    }
    return applied;
}


namespace {
asio::awaitable<void> purge_loop(asio::steady_timer* timer, ports::KeyValueStore* kv, std::chrono::milliseconds every) {
    for (;;) {
        timer->expires_after(every);
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        kv->purge_expired();
    }
}

asio::awaitable<void> recovery_loop(asio::steady_timer* timer, PurchaseSaga* saga, std::chrono::milliseconds every,
                                    Logger log) {
    for (;;) {
        auto op = saga->recover_once();
        auto r = co_await std::move(op);
        if (!r && log) log->warn("saga recovery pass failed: {}", r.error().message);
        timer->expires_after(every);
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
    }
}
asio::awaitable<void> sweep_loop(asio::steady_timer* timer, SharedQuotaLedger* ledger, Clock* clock,
                                 std::chrono::milliseconds every, Logger log) {
    for (;;) {
        auto op = ledger->sweep_expired(clock->now());
        auto r = co_await std::move(op);
        if (!r && log) log->warn("quota reservation sweep failed: {}", r.error().message);
        if (r && *r > 0 && log) log->info("refunded {} expired quota reservations", *r);
        timer->expires_after(every);
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
    }
}
}  // namespace

asio::awaitable<Result<void>> TokenModule::start() {
    auto& db = *ctx_.sql;
    auto op = ctx_.blocking->run([&db] {
        auto migrations = ports::embedded_migrations("token", db.dialect());
        return ports::run_migrations(db, "token", migrations);
    });
    auto migrated = co_await std::move(op);
    if (!migrated) co_return fail(migrated.error());

    if (ctx_.events) {
        // SQLite's cursor mode needs this process to be the only writer of the outbox: a shared ledger
        // means several processes on one database, whose relays claim rows instead. PostgreSQL's
        // locked pass deletes what Kafka acknowledged whatever the number of processes.
        auto outbox = config_.outbox;
        outbox.delete_consumed = outbox.delete_consumed && !(config_.quota_shared && db.dialect() == "sqlite");
        relay_ = std::make_unique<OutboxRelay>(db, *ctx_.events, *ctx_.clock, ctx_.metrics, ctx_.log, std::move(outbox));
    }
    auto* relay = relay_.get();
    auto wake_relay = [relay] {
        if (relay) relay->wake();
    };
    committer_ = std::make_unique<GroupCommitter>(db, config_.commit_max_batch, wake_relay);
    QuotaOptions qopts;
    qopts.window = config_.quota_window_enabled ? config_.quota_window : std::chrono::milliseconds(0);
    if (config_.quota_shared) {
        SharedLedgerOptions sopts;
        sopts.quota = qopts;
        sopts.reservation_timeout = config_.reservation_timeout;
        sopts.lanes = config_.commit_lanes;
        sopts.durable_lanes = config_.commit_durable_lanes;
        auto shared = std::make_unique<SharedQuotaLedger>(db, *ctx_.blocking, *committer_, sopts);
        shared_quota_ = shared.get();
        quota_ = std::move(shared);
    } else {
        quota_ = std::make_unique<QuotaService>(db, *ctx_.blocking, *committer_, qopts);
    }
    if (ctx_.log) ctx_.log->info("token quota reservations: {} mode", quota_->mode());
    orgs_ = std::make_unique<OrgService>(db, *ctx_.blocking);
    limiter_ = std::make_unique<RateLimiter>(*ctx_.kv, config_.bucket_entry_ttl);
    providers_ = std::make_unique<ProviderCaller>(*ctx_.bus, config_.provider, ctx_.log, ctx_.metrics);
    consume_ = std::make_unique<ConsumeService>(config_, *quota_, *limiter_, *providers_, *ctx_.clock, ctx_.metrics);
    chat_ = std::make_unique<ChatMetering>(config_, *quota_, *limiter_, *ctx_.clock, ctx_.log, &consume_->metrics());
    if (ctx_.metrics) {
        auto* c = committer_.get();
        ctx_.metrics->gauge_callback("token_commit_batches", "Group-commit transactions so far",
                                     [c] { return static_cast<double>(c->batches()); });
        ctx_.metrics->gauge_callback("token_commit_items", "Units of work committed through group commit",
                                     [c] { return static_cast<double>(c->items()); });
    }
    payments_ = std::make_unique<SimulatedPaymentProvider>(db, *ctx_.clock, config_.payment);
    saga_ = std::make_unique<PurchaseSaga>(db, *ctx_.blocking, *quota_, *payments_, *ctx_.clock, ctx_.metrics, ctx_.log,
                                           config_.saga, wake_relay);
    if (ctx_.events) {
        EventConsumerOptions copts;
        copts.topic = config_.outbox.purchase_topic;
        copts.group = config_.compensation_group;
        auto* saga = saga_.get();
        compensation_ = std::make_unique<EventConsumer>(
            *ctx_.events, copts, [saga](const ports::EventRecord& r) { return saga->handle_event(r); }, ctx_.log);
        if (auto r = compensation_->start(); !r) co_return fail(r.error());
    }
    if (config_.saga_recovery_enabled) {
        recovery_timer_ = std::make_unique<asio::steady_timer>(*ctx_.io);
        asio::co_spawn(*ctx_.io, recovery_loop(recovery_timer_.get(), saga_.get(), config_.saga_recovery_delay, ctx_.log),
                       asio::detached);
    }
    if (shared_quota_) {
        // Reservations of processes that died between reserve and settle are refunded by any process.
        sweep_timer_ = std::make_unique<asio::steady_timer>(*ctx_.io);
        asio::co_spawn(*ctx_.io,
                       sweep_loop(sweep_timer_.get(), shared_quota_, ctx_.clock,
                                  std::max(config_.reservation_timeout / 4, std::chrono::milliseconds(250)), ctx_.log),
                       asio::detached);
    }
    if (relay_) relay_->start();
    cleanup_timer_ = std::make_unique<asio::steady_timer>(*ctx_.io);
    asio::co_spawn(*ctx_.io, purge_loop(cleanup_timer_.get(), ctx_.kv, config_.bucket_cleanup_interval), asio::detached);
    co_return ok();
}

asio::awaitable<void> TokenModule::stop() {
    if (cleanup_timer_) cleanup_timer_->cancel();  // stop() runs on ctx_.io, the timer's own context
    if (recovery_timer_) recovery_timer_->cancel();
    if (sweep_timer_) sweep_timer_->cancel();
    if (compensation_) {
        // Joins the consumer thread (up to a poll wait plus a payment call): off the I/O thread.
        auto* consumer = compensation_.get();
        auto op = ctx_.blocking->run([consumer] {
            consumer->stop();
            return 0;
        });
        co_await std::move(op);
    }
    if (committer_) committer_->stop();
    if (relay_) {
        // Blocking (the relay flushes for a bounded time): off the I/O thread.
        auto* relay = relay_.get();
        auto op = ctx_.blocking->run([relay] {
            relay->stop();
            return 0;
        });
        co_await std::move(op);
    }
    co_return;
}

Result<std::unique_ptr<Module>> make_module(ModuleContext ctx) {
    if (!ctx.sql || !ctx.kv || !ctx.blocking) return fail(Errc::internal, "token needs SQL, a key-value store and a blocking pool");
    auto cfg = parse_config(*ctx.config);
    if (!cfg) return fail(cfg.error());
    return std::unique_ptr<Module>(std::make_unique<TokenModule>(std::move(ctx), std::move(*cfg)));
}

}  // namespace lt::token
