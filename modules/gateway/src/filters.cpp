#include "filters.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "lt/core/actuator.hpp"
#include "lt/core/request_scope.hpp"
#include "lt/http/errors.hpp"
#include "lt/http/server.hpp"
#include "proxy.hpp"

namespace asio = boost::asio;

namespace lt::gateway {

namespace {

/// Headers only the gateway may set; a client's copies are dropped (CONTRACT.md item 6).
bool is_identity_header(std::string_view name) {
    auto eq = [&](std::string_view want) {
        return name.size() == want.size() && std::equal(name.begin(), name.end(), want.begin(), [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) == b;
               });
    };
    return eq("x-user-id") || eq("x-user-roles");
}

bool idempotent(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS";
}

/// Keeps the bulkhead slot of a streamed answer until its body is sent.
asio::awaitable<void> hold_slot(http::BodyProducer inner, std::shared_ptr<void> slot, http::BodyWriter& w) {
    auto op = inner(w);
    co_await std::move(op);
    slot.reset();
}

}  // namespace

asio::awaitable<http::Response> Chain::next(Exchange& ex) {
    const auto i = pos_++;
    if (i >= filters_.size()) {
        pos_ = i;
        co_return http::error_response(500, "internal error", ex.path);
    }
    auto op = filters_[i]->apply(ex, *this);
    auto res = co_await std::move(op);
    pos_ = i;  // a filter may call next again (a retry) and reaches the same successor
    co_return res;
}

asio::awaitable<http::Response> run_chain(const std::vector<Filter*>& filters, http::Request req) {
    Exchange ex(std::move(req));
    Chain chain(filters);
    auto op = chain.next(ex);
    co_return co_await std::move(op);
}

asio::awaitable<http::Response> ResponseHeadersFilter::apply(Exchange& ex, Chain& chain) {
    const bool openai = ex.path.starts_with("/v1/");
    auto op = chain.next(ex);
    auto res = co_await std::move(op);
    if (openai) http::to_openai_error(res);
    http::set_standard_headers(res, ex.req.ctx.correlation_id);
    co_return res;
}

asio::awaitable<http::Response> RouteFilter::apply(Exchange& ex, Chain& chain) {
    auto m = routes_.match(ex.req.method, ex.req.path);
    if (auto refused = http::routing_error(m, ex.path)) co_return std::move(*refused);
    ex.route = m.route;
    ex.route_template = m.route->path;
    ex.owner = m.route->owner;
    ex.route_id = m.route->route_id;
    ex.local = ex.owner == "kernel" || hosted_(ex.owner);
    ex.req.path_params = std::move(m.params);
    std::erase_if(ex.req.headers, [](const http::Header& h) { return is_identity_header(h.name); });
    ex.req.ctx.principal.reset();
    auto op = chain.next(ex);
    auto res = co_await std::move(op);
    // A catch-all's 404 is an unknown path, counted as such (not under the catch-all's template).
    res.route = res.status == 404 && m.route->catch_all ? std::string("NOT_FOUND") : ex.route_template;
    co_return res;
}

asio::awaitable<http::Response> AuthFilter::apply(Exchange& ex, Chain& chain) {
    // Anonymous routes (the kernel's /actuator/** and console files) read no credentials; public ones
    // use valid credentials and pass without them (CONTRACT 5); the others require them.
    const auto access = ex.route ? ex.route->access : http::Access::required;
    if (access != http::Access::anonymous) {
        auto op = authenticate_(std::string(ex.req.header("X-Api-Key")), std::string(ex.req.header("Authorization")),
                                ex.req.ctx);
        auto outcome = co_await std::move(op);
        if (outcome.kind == AuthOutcome::Kind::authenticated) {
            ex.req.ctx.principal = std::move(outcome.principal);
        } else if (!permit_all_ && access == http::Access::required) {
            auto res = outcome.kind == AuthOutcome::Kind::rejected
                           ? http::error_response(outcome.status, outcome.message, ex.path)
                           : http::error_response(401, "authentication required", ex.path);
            if (res.status == 401) {
                res.set_header("WWW-Authenticate",
                               outcome.www_authenticate.empty() ? std::string("Bearer") : outcome.www_authenticate);
            }
            co_return res;
        }
    }
    auto op = chain.next(ex);
    co_return co_await std::move(op);
}

asio::awaitable<http::Response> EdgeLimitFilter::apply(Exchange& ex, Chain& chain) {
    if (ex.owner != "kernel") {
        std::optional<std::string> user;
        if (ex.req.ctx.principal) user = ex.req.ctx.principal->user_id;
        auto op = edge_.check(ex.route_id, ex.path, edge_.client_key(ex.req, user), clock_.now());
        auto decided = co_await std::move(op);
        if (!decided) co_return http::error_response(decided.error(), ex.path);
        ex.edge = *decided;
        if (ex.edge.blocked_path) co_return http::error_response(403, "path is blocked", ex.path);
        if (!ex.edge.allowed) co_return EdgeLimiter::rejection(ex.edge, ex.path);
    }
    auto op = chain.next(ex);
    auto res = co_await std::move(op);
    // Consume and chat completions set their own X-RateLimit-* (the bucket); the edge adds its IETF
    // items (CONTRACT 27, 39).
    EdgeLimiter::apply_headers(res, ex.edge,
                               ex.route_template == "/api/v1/tokens/consume" ||
                                   ex.route_template == "/v1/chat/completions");
    co_return res;
}

http::Response ResilienceFilter::fallback(std::string_view route_id, std::string_view path, std::string_view reason) {
    auto res = http::error_response(503, "service unavailable", path,
                                    boost::json::object{{"service", route_id}, {"reason", reason}});
    res.set_header("Retry-After", "1");
    return res;
}

asio::awaitable<http::Response> ResilienceFilter::apply(Exchange& ex, Chain& chain) {
    if (ex.local || !registry_.config().enabled) {
        auto op = chain.next(ex);
        co_return co_await std::move(op);
    }
    auto& r = registry_.route(ex.route_id);
    const auto& p = r.policy;
    auto entered = r.bulkhead.enter(p.bulkhead_wait);
    if (!co_await std::move(entered)) {
        if (r.bulkhead_full) r.bulkhead_full->inc();
        co_return fallback(ex.route_id, ex.path, "bulkhead full");
    }
    // Released when this call ends, or when a streamed body ends.
    auto slot = std::shared_ptr<void>(nullptr, [b = &r.bulkhead](void*) { b->leave(); });

    const int attempts = idempotent(ex.req.method) ? std::max(1, p.retry_attempts) : 1;
    const auto request_deadline = ex.req.ctx.deadline;
    std::optional<http::Request> original;
    if (attempts > 1) original = ex.req;  // each attempt sends the request as received
    http::Response res;
    for (int attempt = 1;; ++attempt) {
        auto now = std::chrono::steady_clock::now();
        auto permit = r.breaker.try_acquire(now);
        if (!permit.allowed) {
            if (r.short_circuited) r.short_circuited->inc();
            co_return fallback(ex.route_id, ex.path, "circuit open");
        }
        if (attempt > 1) ex.req = *original;
        ex.upstream_unreached = false;
        ex.req.ctx.deadline = std::min(request_deadline, now + p.timeout);
        auto op = chain.next(ex);
        res = co_await std::move(op);
        const bool timed_out = ex.upstream_unreached && res.status == 504;
        const bool failed = ex.upstream_unreached || res.status == 500 || res.status == 503 || res.status == 504;
        r.breaker.record(permit, !failed, std::chrono::steady_clock::now());
        if (!failed) {
            if (r.success) r.success->inc();
            break;
        }
        if (Counter* c = timed_out ? r.timeout : r.failure) c->inc();
        // Retried: idempotent calls that reached no downstream (an answer, even a 5xx, is final).
        if (!ex.upstream_unreached || attempt >= attempts) break;
        if (std::chrono::steady_clock::now() + p.retry_wait >= request_deadline) break;
        if (r.retried) r.retried->inc();
        auto executor = co_await asio::this_coro::executor;
        asio::steady_timer timer(executor);
        timer.expires_after(p.retry_wait);
        auto wait = timer.async_wait(asio::as_tuple(asio::use_awaitable));
        co_await std::move(wait);
    }
    if (res.stream) {
        res.stream = [inner = std::move(res.stream), slot](http::BodyWriter& w) { return hold_slot(inner, slot, w); };
    }
    co_return res;
}

asio::awaitable<http::Response> DispatchFilter::apply(Exchange& ex, Chain& /*chain*/) {
    ex.req.route = ex.route_template;
    // The owner's part of the request: its own span, parent of what the handler calls.
    Span span;
    if (tracer_ && tracer_->enabled()) {
        span = tracer_->start(ex.owner + " " + ex.route_template, ex.req.ctx.traceparent);
        ex.req.ctx.traceparent = span.traceparent();
    }
    // The handler's store calls are children of this span (request_scope.hpp).
    std::optional<TraceparentSwap> swap;
    if (span.recording()) swap.emplace(ex.req.ctx.traceparent);
    if (ex.local) {
        try {
            auto op = ex.route->handler(std::move(ex.req));
            co_return co_await std::move(op);
        } catch (const std::exception& e) {
            log_->error("handler threw route={} error={}", ex.route_template, e.what());
        }
        co_return http::error_response(500, "internal error", ex.path);
    }
    if (!forwarder_) co_return http::error_response(404, "not found", ex.path);
    // Hosted in another process: proxied to an instance of its owner.
    auto op = proxy(*forwarder_, ex.owner, std::move(ex.req));
    auto out = co_await std::move(op);
    ex.upstream_unreached = !out.reached;
    co_return std::move(out.response);
}

}  // namespace lt::gateway
