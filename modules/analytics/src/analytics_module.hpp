#pragma once
/// The analytics module: glue between routes, the event consumers and the query service.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "analytics_config.hpp"
#include "analytics_service.hpp"
#include "event_ingestor.hpp"
#include "lt/core/event_consumer.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/module.hpp"
#include "lt/http/message.hpp"

namespace lt::analytics {

class AnalyticsModule final : public Module {
public:
    AnalyticsModule(ModuleContext ctx, AnalyticsConfig config);
    ~AnalyticsModule() override;

    std::string_view name() const override { return "analytics"; }
    void register_routes(http::Router& router) override;
    /// Migrates the store, starts the consumers (when enabled) and the purge timer.
    boost::asio::awaitable<Result<void>> start() override;
    /// Stops the purge timer and the consumers (joined on the blocking pool).
    boost::asio::awaitable<void> stop() override;

    // Handlers (analytics_http.cpp).
    boost::asio::awaitable<http::Response> health(http::Request req);
    boost::asio::awaitable<http::Response> usage(http::Request req);
    boost::asio::awaitable<http::Response> report(http::Request req);
    boost::asio::awaitable<http::Response> anomalies(http::Request req);
    boost::asio::awaitable<http::Response> providers(http::Request req);
    boost::asio::awaitable<http::Response> user(http::Request req);
    boost::asio::awaitable<http::Response> trends(http::Request req);

    /// The batch handler of the consumers (tests read its counters).
    EventIngestor* ingestor() { return ingestor_.get(); }

private:
    /// Who the request may see: the principal's own events, or all for ADMIN.
    Viewer viewer_of(const http::Request& req) const;
    /// 503 for a store failure, logged with the request id.
    http::Response unavailable(const http::Request& req, const Error& e) const;
    void count(CounterFamily* family, const std::string& provider) const;

    ModuleContext ctx_;
    AnalyticsConfig config_;
    std::unique_ptr<AnalyticsService> service_;
    std::unique_ptr<EventIngestor> ingestor_;
    std::vector<std::unique_ptr<EventConsumer>> consumers_;
    std::unique_ptr<boost::asio::steady_timer> purge_timer_;
    CounterFamily* usage_total_ = nullptr;    ///< analytics_usage_query_total{provider,outcome}
    CounterFamily* report_total_ = nullptr;   ///< analytics_report_query_total{provider,outcome}
    CounterFamily* anomaly_total_ = nullptr;  ///< analytics_anomaly_query_total{provider,outcome}
};

}  // namespace lt::analytics
