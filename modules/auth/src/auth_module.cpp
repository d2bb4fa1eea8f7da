#include "auth_module.hpp"

#include <boost/json.hpp>

#include "lt/bus/bus.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/json.hpp"
#include "auth_store.hpp"
#include "username.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/time.hpp"
#include "lt/ports/sql_database.hpp"

namespace asio = boost::asio;

namespace lt::auth {

namespace {

MetricsRegistry& registry_of(const ModuleContext& ctx, std::unique_ptr<MetricsRegistry>& own) {
    if (ctx.metrics != nullptr) return *ctx.metrics;
    own = std::make_unique<MetricsRegistry>();
    return *own;
}

}  // namespace

AuthModule::AuthModule(ModuleContext ctx, AuthConfig config)
    : ctx_(std::move(ctx)),
      config_(std::move(config)),
      metrics_(registry_of(ctx_, own_metrics_)),
      hashing_(static_cast<std::size_t>(config_.password_hash_threads), config_.password_hash_queue),
      login_limiter_(ctx_.kv, config_.login),
      keys_(config_.issuer, std::chrono::seconds(config_.expiry_seconds), config_.key_bits,
            config_.key_encryption_key),
      users_(*ctx_.sql, hashing_, *ctx_.clock, keys_, metrics_),
      api_keys_(*ctx_.sql, *ctx_.clock, metrics_, config_.max_keys_per_user),
      oauth2_(config_, *ctx_.sql, hashing_, *ctx_.clock, keys_),
      http_(AuthHttpDeps{&users_, &api_keys_, &oauth2_, &keys_, ctx_.sql, ctx_.blocking, ctx_.bus, ctx_.clock,
                         &metrics_, &login_limiter_, ctx_.log}) {}

void AuthModule::register_handlers(bus::Bus& bus) {
    bus.handle(kVerifyKey, [this](VerifyKeyRequest r, bus::Context) { return bus_verify_key(std::move(r)); });
    bus.handle(kJwks, [this](bus::Empty, bus::Context) { return bus_jwks(); });
    bus.handle(kGetUser, [this](GetUserRequest r, bus::Context) { return bus_get_user(std::move(r)); });
}

Result<void> AuthModule::start_blocking() {
    auto migrated = ports::run_migrations(*ctx_.sql, "auth", ports::embedded_migrations("auth", ctx_.sql->dialect()));
    if (!migrated) return fail(migrated.error());
    if (auto r = keys_.load_or_create(*ctx_.sql, ctx_.clock->now()); !r) return r;
    if (auto r = fill_username_keys(); !r) return r;
    if (config_.bootstrap_admin) {
        const auto& admin = *config_.bootstrap_admin;
        auto id = upsert_user(*ctx_.sql, ctx_.clock->now(), admin.username, admin.email, admin.password, true);
        if (!id) return fail(id.error().code, "bootstrap admin: " + id.error().message);
        ctx_.log->info("bootstrap admin ready username={} user_id={}", admin.username, *id);
    }
    return ok();
}

Result<void> AuthModule::fill_username_keys() {
    // Users registered before the canonical key existed get theirs now; the older of two colliding
    // names keeps it (the other can still log in by its exact name, and new look-alikes are refused).
    return ctx_.sql->transact_sync([&](ports::SqlSession& s) -> Result<void> {
        AuthStore store(s);
        auto users = store.users_without_key();
        if (!users) return fail(users.error());
        for (const auto& [id, name] : *users) {
            auto set = store.set_username_key(id, username_key(name));
            if (!set) return fail(set.error());
            if (!*set) ctx_.log->warn("user name collides with an older one after normalization user_id={}", id);
        }
        return ok();
    });
}

asio::awaitable<Result<void>> AuthModule::start() {
    auto op = ctx_.blocking->run([this] { return start_blocking(); });
    auto r = co_await std::move(op);
    if (r) ctx_.log->info("auth started kid={}", keys_.current_kid());
    co_return r;
}

asio::awaitable<void> AuthModule::stop() {
    hashing_.stop();
    co_return;
}

asio::awaitable<Result<VerifiedKey>> AuthModule::bus_verify_key(VerifyKeyRequest req) {
    auto op = api_keys_.verify(std::move(req.api_key));
    co_return co_await std::move(op);
}

asio::awaitable<Result<UserInfo>> AuthModule::bus_get_user(GetUserRequest req) {
    auto id = normalize_uuid(req.user_id);
    if (!id) co_return fail(Errc::invalid_argument, "invalid userId");
    auto& db = *ctx_.sql;
    auto op = ctx_.blocking->run([&db, uid = *id]() -> Result<UserInfo> {
        UserInfo out;
        auto r = db.transact_sync([&](ports::SqlSession& s) -> Result<void> {
            AuthStore store(s);
            auto user = store.find_user_by_id(uid);
            if (!user) return fail(user.error());
            if (!*user) return fail(Errc::not_found, "user not found");
            auto roles = store.roles_of(uid);
            if (!roles) return fail(roles.error());
            out = UserInfo{uid, (*user)->username, std::vector<std::string>(roles->begin(), roles->end()),
                           (*user)->roles_version};
            return ok();
        });
        if (!r) return fail(r.error());
        return out;
    });
    co_return co_await std::move(op);
}

asio::awaitable<Result<JwksReply>> AuthModule::bus_jwks() {
    auto op = oauth2_.revoked();
    auto revoked = co_await std::move(op);
    if (!revoked) co_return fail(revoked.error());
    JwksReply out;
    for (const auto& t : *revoked) out.revoked.push_back(TokenRevoked{t.jti, t.exp});
    auto jwks = keys_.jwks(ctx_.clock->now());
    if (const auto* keys = jwks.is_object() ? jwks.as_object().if_contains("keys") : nullptr; keys && keys->is_array()) {
        out.keys = keys->as_array();
    }
    // Role changes a restarted (or event-missing) gateway must know: one token lifetime back.
    const auto since = std::chrono::duration_cast<std::chrono::seconds>(ctx_.clock->now().time_since_epoch()).count() -
                       config_.expiry_seconds - kClockSkew.count();
    auto& db = *ctx_.sql;
    auto versions_op = ctx_.blocking->run([&db, since]() {
        std::vector<std::pair<std::string, std::int64_t>> rows;
        auto r = db.transact_sync([&](ports::SqlSession& s) -> Result<void> {
            auto v = AuthStore(s).roles_changed_since(since);
            if (!v) return fail(v.error());
            rows = std::move(*v);
            return ok();
        });
        return r ? Result<std::vector<std::pair<std::string, std::int64_t>>>(std::move(rows))
                 : Result<std::vector<std::pair<std::string, std::int64_t>>>(fail(r.error()));
    });
    auto versions = co_await std::move(versions_op);
    if (!versions) co_return fail(versions.error());
    for (auto& [user, version] : *versions) out.roles_versions.push_back(RolesVersion{std::move(user), version});
    co_return out;
}

Result<std::unique_ptr<Module>> make_module(ModuleContext ctx) {
    if (!ctx.sql || !ctx.blocking || !ctx.bus || !ctx.clock || !ctx.routes || !ctx.config) {
        return fail(Errc::internal, "auth needs the SQL database, the blocking pool, the bus, a clock and the routes");
    }
    if (!ctx.log) ctx.log = make_logger("auth", "off");
    auto cfg = parse_config(*ctx.config);
    if (!cfg) return fail(cfg.error());
    return std::unique_ptr<Module>(std::make_unique<AuthModule>(std::move(ctx), std::move(*cfg)));
}

}  // namespace lt::auth
