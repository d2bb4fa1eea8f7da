#pragma once
/// The token module: glue between routes, the bus and the services (quota, limiter, consume, orgs).

#include <memory>
#include <optional>

#include <boost/asio/steady_timer.hpp>

#include "chat_metering.hpp"
#include "chat_stream.hpp"
#include "consume_service.hpp"
#include "limiter/rate_limiter.hpp"
#include "lt/core/event_consumer.hpp"
#include "lt/core/module.hpp"
#include "lt/http/message.hpp"
#include "outbox/outbox_relay.hpp"
#include "provider_caller.hpp"
#include "quota/group_committer.hpp"
#include "quota/org_service.hpp"
#include "quota/quota_service.hpp"
#include "quota/shared_quota_ledger.hpp"
#include "saga/payment.hpp"
#include "saga/purchase_saga.hpp"
#include "token_config.hpp"

namespace lt::token {

class TokenModule final : public Module {
public:
    TokenModule(ModuleContext ctx, TokenConfig config);
    ~TokenModule() override;

    std::string_view name() const override { return "token"; }
    void register_routes(http::Router& router) override;
    boost::asio::awaitable<Result<void>> start() override;
    boost::asio::awaitable<void> stop() override;
    /// Refreshable: the bucket (capacity, leak rate, window, strategy), tiers and
    /// feature.flags.token-service.* (token_config.hpp, LiveSettings); token.provider.* (the
    /// provider calls' deadline, retries, circuit breaker and bulkhead, for calls that start after).
    std::vector<std::string> refresh(const config::Config& next, const std::vector<std::string>& changed) override;

    // Handlers (token_http.cpp, quota_http.cpp).
    boost::asio::awaitable<http::Response> status(http::Request req);
    boost::asio::awaitable<http::Response> get_quota(http::Request req);
    boost::asio::awaitable<http::Response> get_org_quota(http::Request req);
    boost::asio::awaitable<http::Response> set_quota(http::Request req);
    boost::asio::awaitable<http::Response> consume(http::Request req);
    boost::asio::awaitable<http::Response> create_org(http::Request req);
    boost::asio::awaitable<http::Response> put_member(http::Request req);
    boost::asio::awaitable<http::Response> delete_member(http::Request req);
    boost::asio::awaitable<http::Response> list_members(http::Request req);
    boost::asio::awaitable<http::Response> purchase(http::Request req);
    boost::asio::awaitable<http::Response> get_purchase(http::Request req);
    // The OpenAI-compatible API (chat_http.cpp). chat_completions may return a streamed Response:
    // the gateway calls it in-process.
    boost::asio::awaitable<http::Response> list_models(http::Request req);
    boost::asio::awaitable<http::Response> chat_completions(http::Request req);

private:
    /// The roles of a user the auth module knows; else the response: 404 `user not found`, or 503.
    boost::asio::awaitable<tl::expected<std::vector<std::string>, http::Response>> user_roles(std::string user_id,
                                                                                             http::Request req);
    /// 404 `org not found` (or 503) unless the org exists.
    boost::asio::awaitable<std::optional<http::Response>> require_org(std::string org_id, http::Request req);
    /// PUT/DELETE .../orgs/{orgId}/members/{userId}: the canonical (orgId, userId) for an ADMIN and an
    /// existing org; else the response (400 for a bad id, 403, 404).
    boost::asio::awaitable<tl::expected<std::pair<std::string, std::string>, http::Response>> member_target(
        http::Request req);
    /// Non-admin: 403 unless a member; admin: 404 `org not found` when it does not exist.
    boost::asio::awaitable<std::optional<http::Response>> require_org_access(std::string org_id, http::Request req);
    /// Creates the user's pool from token.quota.default-allowance on first use.
    boost::asio::awaitable<void> ensure_default_pool(PoolKey key, std::optional<std::int64_t> cap);
    /// chat_completions before its errors are put in OpenAI's shape.
    boost::asio::awaitable<http::Response> chat_completions_inner(http::Request req);
    /// `model` → its route (provider, the model name the provider serves, limits, fallback):
    /// "<provider>/<name>", or a bare name listed in providers.<provider>.models; Errc::not_found
    /// otherwise.
    boost::asio::awaitable<Result<ChatRoute>> resolve_model(std::string model, bus::Context ctx);
    /// One chat completion on `route`'s provider (admit, call, answer or stream). With
    /// `can_fall_back`, an empty pool (402) or a failed provider answers nothing (the fallback serves).
    boost::asio::awaitable<ChatAttempt> chat_attempt(const ChatCall& call, const ChatRoute& route, bool can_fall_back,
                                                     const http::Request& req);
    void count_lookup(const std::string& provider, std::string_view outcome);
    /// T2/T3: the quota view of a user's or an org's pool.
    boost::asio::awaitable<http::Response> lookup_quota(OwnerType type, http::Request req);

    ModuleContext ctx_;
    TokenConfig config_;
    std::unique_ptr<OutboxRelay> relay_;  ///< declared before the committer: destroyed after it
    std::unique_ptr<GroupCommitter> committer_;
    std::unique_ptr<QuotaLedger> quota_;
    SharedQuotaLedger* shared_quota_ = nullptr;  ///< quota_ in the shared mode, else null
    std::unique_ptr<boost::asio::steady_timer> sweep_timer_;
    std::unique_ptr<OrgService> orgs_;
    std::unique_ptr<RateLimiter> limiter_;
    std::unique_ptr<ProviderCaller> providers_;
    std::unique_ptr<ConsumeService> consume_;
    std::unique_ptr<ChatMetering> chat_;
    std::unique_ptr<boost::asio::steady_timer> cleanup_timer_;
    std::unique_ptr<PaymentProvider> payments_;
    std::unique_ptr<PurchaseSaga> saga_;
    std::unique_ptr<EventConsumer> compensation_;
    std::unique_ptr<boost::asio::steady_timer> recovery_timer_;
    CounterFamily* lookup_total_ = nullptr;
};

}  // namespace lt::token
