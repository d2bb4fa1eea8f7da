#include "lt/core/actuator.hpp"

#include <memory>

#include <boost/json.hpp>

#include "lt/core/metrics.hpp"
#include "lt/core/process_metrics.hpp"

namespace asio = boost::asio;

namespace lt {

namespace {
struct Actuator {
    MetricsRegistry* metrics;
    ActuatorInfo info;

    http::Response health() const {
        boost::json::object components;
        bool up = true;
        for (const auto& s : info.statuses()) {
            components[s.name] = boost::json::object{{"status", s.status}};
            up = up && s.status == "UP";
        }
        if (info.stores) {
            for (const auto& s : info.stores()) {
                components[s.name] = boost::json::object{{"status", s.status}};
                up = up && s.status == "UP";
            }
        }
        boost::json::object body{{"status", up ? "UP" : "DOWN"}, {"components", std::move(components)}};
        return http::Response::json(up ? 200 : 503, body);
    }
};

asio::awaitable<http::Response> health(std::shared_ptr<Actuator> a, http::Request req) {
    (void)req;  // named: g++ 12 double-destroys unnamed by-value coroutine parameters
    co_return a->health();
}

asio::awaitable<http::Response> liveness(http::Request req) {
    (void)req;
    co_return http::Response::json(200, boost::json::object{{"status", "UP"}});
}

asio::awaitable<http::Response> info_route(std::shared_ptr<Actuator> a, http::Request req) {
    (void)req;  // named: g++ 12 double-destroys unnamed by-value coroutine parameters
    boost::json::array modules, adapters;
    for (const auto& m : a->info.modules) modules.emplace_back(m);
    for (const auto& m : a->info.adapters) adapters.emplace_back(m);
    boost::json::object body{{"app", boost::json::object{{"name", "leaky-tokens"}, {"version", a->info.version}}},
                             {"modules", std::move(modules)},
                             {"adapters", std::move(adapters)},
                             {"profile", a->info.profile}};
    co_return http::Response::json(200, body);
}

asio::awaitable<http::Response> prometheus(std::shared_ptr<Actuator> a, http::Request req) {
    (void)req;  // named: g++ 12 double-destroys unnamed by-value coroutine parameters
    http::Response r;
    r.status = 200;
    r.body = a->metrics->render();
    r.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    co_return r;
}
}  // namespace

void register_actuator_routes(http::Router& router, MetricsRegistry& metrics, ActuatorInfo info) {
    if (!info.application.empty()) metrics.set_constant_labels({{"application", info.application}});
    register_process_metrics(metrics);
    if (info.stores) {
        metrics.callback_family("store_up", "1 while a network store (db, redis, kafka) is reachable, else 0",
                                MetricType::gauge, {"store"}, [stores = info.stores] {
                                    std::vector<CallbackSample> out;
                                    for (const auto& s : stores()) out.push_back({{s.name}, s.status == "UP" ? 1.0 : 0.0});
                                    return out;
                                });
    }
    auto a = std::make_shared<Actuator>(Actuator{&metrics, std::move(info)});
    // /actuator/** is public (CONTRACT 5) and reads no credentials.
    const http::RouteOptions kActuator{http::Access::anonymous, "actuator"};
    router.add("kernel", "GET", "/actuator/health", [a](http::Request r) { return health(a, std::move(r)); }, kActuator);
    router.add("kernel", "GET", "/actuator/health/liveness", liveness, kActuator);
    router.add("kernel", "GET", "/actuator/health/readiness", [a](http::Request r) { return health(a, std::move(r)); }, kActuator);
    router.add("kernel", "GET", "/actuator/info", [a](http::Request r) { return info_route(a, std::move(r)); }, kActuator);
    router.add("kernel", "GET", "/actuator/prometheus", [a](http::Request r) { return prometheus(a, std::move(r)); }, kActuator);
}

}  // namespace lt
