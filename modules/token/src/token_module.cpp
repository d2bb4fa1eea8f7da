#include "token_module.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "lt/bus/bus.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/http/bus_binding.hpp"
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

void TokenModule::register_handlers(bus::Bus& bus) { http::serve_routes_over_bus(bus, *ctx_.routes, "token"); }

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
}  // namespace

asio::awaitable<Result<void>> TokenModule::start() {
    auto& db = *ctx_.sql;
    auto op = ctx_.blocking->run([&db] {
        auto migrations = ports::embedded_migrations("token", db.dialect());
        return ports::run_migrations(db, "token", migrations);
    });
    auto migrated = co_await std::move(op);
    if (!migrated) co_return fail(migrated.error());

    committer_ = std::make_unique<GroupCommitter>(db, config_.commit_max_batch);
    QuotaOptions qopts;
    qopts.window = config_.quota_window_enabled ? config_.quota_window : std::chrono::milliseconds(0);
    quota_ = std::make_unique<QuotaService>(db, *ctx_.blocking, *committer_, qopts);
    orgs_ = std::make_unique<OrgService>(db, *ctx_.blocking);
    limiter_ = std::make_unique<RateLimiter>(*ctx_.kv, config_.bucket_entry_ttl);
    providers_ = std::make_unique<ProviderCaller>(*ctx_.bus, config_.provider, ctx_.log, ctx_.metrics);
    consume_ = std::make_unique<ConsumeService>(config_, *quota_, *limiter_, *providers_, *ctx_.clock, ctx_.metrics);
    if (ctx_.metrics) {
        auto* c = committer_.get();
        ctx_.metrics->gauge_callback("token_commit_batches", "Group-commit transactions so far",
                                     [c] { return static_cast<double>(c->batches()); });
        ctx_.metrics->gauge_callback("token_commit_items", "Units of work committed through group commit",
                                     [c] { return static_cast<double>(c->items()); });
    }
    cleanup_timer_ = std::make_unique<asio::steady_timer>(*ctx_.io);
    asio::co_spawn(*ctx_.io, purge_loop(cleanup_timer_.get(), ctx_.kv, config_.bucket_cleanup_interval), asio::detached);
    co_return ok();
}

asio::awaitable<void> TokenModule::stop() {
    if (cleanup_timer_) cleanup_timer_->cancel();  // stop() runs on ctx_.io, the timer's own context
    if (committer_) committer_->stop();
    co_return;
}

Result<std::unique_ptr<Module>> make_module(ModuleContext ctx) {
    if (!ctx.sql || !ctx.kv || !ctx.blocking) return fail(Errc::internal, "token needs SQL, a key-value store and a blocking pool");
    auto cfg = parse_config(*ctx.config);
    if (!cfg) return fail(cfg.error());
    return std::unique_ptr<Module>(std::make_unique<TokenModule>(std::move(ctx), std::move(*cfg)));
}

}  // namespace lt::token
