// Handlers of the analytics endpoints: parameters, authorization, JSON. Checks run in the contract's
// order (CONTRACT.md item 2): 401, then 400 (malformed parameters, then an unknown provider), then 403.
#include <boost/json.hpp>

#include "analytics_module.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "lt/http/authz.hpp"
#include "lt/http/errors.hpp"
#include "lt/providers/providers.hpp"
#include "query_params.hpp"

namespace asio = boost::asio;

namespace lt::analytics {

namespace {

http::Response bad_request(const http::Request& req, std::string_view message) {
    return http::error_response(400, message, req.path);
}

/// The totals fields shared by /report, /providers, /users and /trends.
void put_totals(json::object& o, const ports::UsageTotals& t) {
    o["totalEvents"] = t.events();
    o["allowedEvents"] = t.allowed_events;
    o["deniedEvents"] = t.denied_events;
    o["totalTokens"] = t.allowed_tokens;
    o["deniedTokens"] = t.denied_tokens;
}

void put_window(json::object& o, const Window& w) {
    o["windowStart"] = format_rfc3339(w.start);
    o["windowEnd"] = format_rfc3339(w.end);
}

json::array provider_rows(const std::vector<ports::GroupTotals>& groups) {
    json::array rows;
    for (const auto& g : groups) {
        json::object row{{"provider", g.key}};
        put_totals(row, g.totals);
        rows.push_back(std::move(row));
    }
    return rows;
}

/// Reads the common `provider` + integer parameters; the first error as a 400 response.
struct ProviderParams {
    std::string provider;
    std::optional<http::Response> error;
};

ProviderParams provider_or_400(const http::Request& req) {
    auto p = provider_param(req);
    if (!p) return {{}, bad_request(req, p.error().message)};
    return {std::move(*p), std::nullopt};
}

}  // namespace

Viewer AnalyticsModule::viewer_of(const http::Request& req) const {
    if (http::is_admin(req)) return Viewer{};
    return Viewer{req.ctx.principal->user_id};
}

http::Response AnalyticsModule::unavailable(const http::Request& req, const Error& e) const {
    ctx_.log->error("analytics query failed request_id={} path={} error={}", req.ctx.request_id, req.path, e.message);
    return http::error_response(503, "analytics unavailable", req.path);
}

void AnalyticsModule::count(CounterFamily* family, const std::string& provider) const {
    if (family) family->labels({provider, "success"}).inc();
}

asio::awaitable<http::Response> AnalyticsModule::health(http::Request req) {
    (void)req;
    co_return http::Response::json(200, json::object{{"service", "analytics-service"},
                                                     {"status", "ok"},
                                                     {"timestamp", format_rfc3339(ctx_.clock->now())}});
}

asio::awaitable<http::Response> AnalyticsModule::usage(http::Request req) {
    if (auto r = http::require_principal(req)) co_return *r;
    auto p = provider_or_400(req);
    if (p.error) co_return *p.error;
    auto limit = int_param(req, "limit");
    if (!limit) co_return bad_request(req, limit.error().message);
    if (!providers::is_known_provider(p.provider)) co_return bad_request(req, "unknown provider");
    if (auto r = http::require_user_or_admin(req)) co_return *r;

    UsageQuery q{p.provider, viewer_of(req), *limit};
    auto* service = service_.get();
    auto op = ctx_.blocking->run([service, q] { return service->usage(q); });
    auto list = co_await std::move(op);
    if (!list) co_return unavailable(req, list.error());
    json::array items;
    for (const auto& e : *list) {
        json::object item{{"key", json::object{{"provider", e.provider}, {"timestamp", format_rfc3339(e.occurred_at)}}},
                          {"userId", e.user_id},
                          {"tokens", e.tokens},
                          {"allowed", e.allowed},
                          {"eventId", e.event_id},
                          {"outcome", e.outcome}};
        if (e.model) {  // a chat completion: what was asked and how it ended
            item["model"] = *e.model;
            item["promptTokens"] = e.prompt_tokens.value_or(0);
            item["completionTokens"] = e.completion_tokens.value_or(0);
            item["completeness"] = e.completeness ? json::value(*e.completeness) : json::value(nullptr);
        }
        items.push_back(std::move(item));
    }
    count(usage_total_, p.provider);
    co_return http::Response::json(200, json::object{{"provider", p.provider},
                                                     {"count", static_cast<std::int64_t>(items.size())},
                                                     {"items", std::move(items)}});
}

asio::awaitable<http::Response> AnalyticsModule::report(http::Request req) {
    if (auto r = http::require_principal(req)) co_return *r;
    auto p = provider_or_400(req);
    if (p.error) co_return *p.error;
    auto window = int_param(req, "windowMinutes");
    if (!window) co_return bad_request(req, window.error().message);
    auto limit = int_param(req, "limit");
    if (!limit) co_return bad_request(req, limit.error().message);
    if (!providers::is_known_provider(p.provider)) co_return bad_request(req, "unknown provider");
    if (auto r = http::require_user_or_admin(req)) co_return *r;

    ReportQuery q{p.provider, viewer_of(req), *window, *limit};
    auto* service = service_.get();
    auto op = ctx_.blocking->run([service, q] { return service->report(q); });
    auto rep = co_await std::move(op);
    if (!rep) co_return unavailable(req, rep.error());
    json::array top;
    for (const auto& u : rep->top_users) {
        top.push_back(json::object{{"userId", u.user_id}, {"totalTokens", u.total_tokens}, {"events", u.events}});
    }
    json::object o{{"provider", p.provider}};
    put_window(o, rep->window);
    put_totals(o, rep->totals);
    o["averageTokensPerEvent"] = rep->average_tokens_per_event();
    o["uniqueUsers"] = rep->unique_users;
    o["sampleLimit"] = rep->sample_limit;
    o["topUsers"] = std::move(top);
    json::array models;
    for (const auto& m : rep->models) {
        models.push_back(json::object{{"model", m.key},
                                      {"totalEvents", m.totals.events()},
                                      {"allowedEvents", m.totals.allowed_events},
                                      {"totalTokens", m.totals.allowed_tokens},
                                      {"deniedTokens", m.totals.denied_tokens}});
    }
    o["models"] = std::move(models);
    count(report_total_, p.provider);
    co_return http::Response::json(200, o);
}

asio::awaitable<http::Response> AnalyticsModule::anomalies(http::Request req) {
    if (auto r = http::require_principal(req)) co_return *r;
    auto p = provider_or_400(req);
    if (p.error) co_return *p.error;
    auto window = int_param(req, "windowMinutes");
    if (!window) co_return bad_request(req, window.error().message);
    auto baselines = int_param(req, "baselineWindows");
    if (!baselines) co_return bad_request(req, baselines.error().message);
    auto threshold = number_param(req, "thresholdMultiplier");
    if (!threshold) co_return bad_request(req, threshold.error().message);
    auto limit = int_param(req, "limit");
    if (!limit) co_return bad_request(req, limit.error().message);
    if (!providers::is_known_provider(p.provider)) co_return bad_request(req, "unknown provider");
    if (auto r = http::require_user_or_admin(req)) co_return *r;

    AnomalyQuery q{p.provider, viewer_of(req), *window, *baselines, *threshold, *limit};
    auto* service = service_.get();
    auto op = ctx_.blocking->run([service, q] { return service->anomalies(q); });
    auto a = co_await std::move(op);
    if (!a) co_return unavailable(req, a.error());
    json::object o{{"provider", p.provider}};
    put_window(o, a->window);
    o["baselineWindows"] = a->baseline_windows;
    o["currentTokens"] = a->current_tokens;
    o["baselineAverageTokens"] = a->baseline_average;
    o["ratio"] = a->ratio ? json::value(*a->ratio) : json::value(nullptr);
    o["thresholdMultiplier"] = a->threshold;
    o["anomaly"] = a->anomaly;
    o["sampleLimit"] = a->sample_limit;
    count(anomaly_total_, p.provider);
    co_return http::Response::json(200, o);
}

asio::awaitable<http::Response> AnalyticsModule::providers(http::Request req) {
    if (auto r = http::require_principal(req)) co_return *r;
    auto window = int_param(req, "windowMinutes");
    if (!window) co_return bad_request(req, window.error().message);
    if (auto r = http::require_user_or_admin(req)) co_return *r;

    auto viewer = viewer_of(req);
    auto* service = service_.get();
    auto op = ctx_.blocking->run([service, viewer, minutes = *window] { return service->providers(viewer, minutes); });
    auto s = co_await std::move(op);
    if (!s) co_return unavailable(req, s.error());
    json::object o;
    put_window(o, s->window);
    o["providers"] = provider_rows(s->providers);
    co_return http::Response::json(200, o);
}

asio::awaitable<http::Response> AnalyticsModule::user(http::Request req) {
    if (auto r = http::require_principal(req)) co_return *r;
    auto user_id = normalize_uuid(req.path_param("userId"));
    if (!user_id) co_return bad_request(req, "invalid userId");
    auto window = int_param(req, "windowMinutes");
    if (!window) co_return bad_request(req, window.error().message);
    if (auto r = http::require_user_or_admin(req)) co_return *r;
    if (auto r = http::require_self_or_admin(req, *user_id)) co_return *r;

    auto* service = service_.get();
    auto op = ctx_.blocking->run([service, id = *user_id, minutes = *window] { return service->user(id, minutes); });
    auto s = co_await std::move(op);
    if (!s) co_return unavailable(req, s.error());
    json::object o{{"userId", *user_id}};
    put_window(o, s->window);
    put_totals(o, s->totals);
    o["providers"] = provider_rows(s->providers);
    o["purchases"] = json::object{{"started", s->purchases.started},
                                  {"completed", s->purchases.completed},
                                  {"failed", s->purchases.failed},
                                  {"purchasedTokens", s->purchases.purchased_tokens}};
    co_return http::Response::json(200, o);
}

asio::awaitable<http::Response> AnalyticsModule::trends(http::Request req) {
    if (auto r = http::require_principal(req)) co_return *r;
    auto p = provider_or_400(req);
    if (p.error) co_return *p.error;
    auto window = int_param(req, "windowMinutes");
    if (!window) co_return bad_request(req, window.error().message);
    auto bucket = int_param(req, "bucketMinutes");
    if (!bucket) co_return bad_request(req, bucket.error().message);
    if (!providers::is_known_provider(p.provider)) co_return bad_request(req, "unknown provider");
    if (auto r = http::require_user_or_admin(req)) co_return *r;

    TrendQuery q{p.provider, viewer_of(req), *window, *bucket};
    auto* service = service_.get();
    auto op = ctx_.blocking->run([service, q] { return service->trends(q); });
    auto t = co_await std::move(op);
    if (!t) co_return unavailable(req, t.error());
    json::array buckets;
    for (const auto& b : t->buckets) {
        json::object row{{"start", format_rfc3339(b.start)}, {"end", format_rfc3339(b.end)}};
        put_totals(row, b.totals);
        buckets.push_back(std::move(row));
    }
    json::object o{{"provider", p.provider}};
    put_window(o, t->window);
    o["bucketMinutes"] = t->bucket_minutes;
    o["buckets"] = std::move(buckets);
    co_return http::Response::json(200, o);
}

}  // namespace lt::analytics
