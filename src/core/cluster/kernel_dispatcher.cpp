#include "lt/cluster/kernel_dispatcher.hpp"

#include <algorithm>
#include <exception>

#include <boost/json.hpp>

#include "lt/core/cluster.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/request_scope.hpp"
#include "lt/http/errors.hpp"
#include "lt/ports/event_log.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace lt::cluster {

namespace {
constexpr std::string_view kInternal = "/internal/";
constexpr std::string_view kCall = "/internal/bus/call/";
constexpr std::string_view kEvent = "/internal/bus/event/";
constexpr std::string_view kEvents = "/internal/events/";

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

http::Response error_reply(const Error& e) {
    return http::Response::json(http::status_of(e.code), json::object{{"code", to_string(e.code)}, {"message", e.message}});
}

/// The {"body","ctx"} of an internal bus message; the ctx's deadline no later than the request's.
Result<bus::Message> decode(const http::Request& req, std::string name) {
    boost::system::error_code ec;
    auto v = json::parse(req.body, ec);
    if (ec || !v.is_object()) return fail(Errc::invalid_argument, "bus message must be a JSON object");
    auto& o = v.as_object();
    bus::Message m;
    m.name = std::move(name);
    if (auto* b = o.if_contains("body")) m.body = std::move(*b);
    if (auto* c = o.if_contains("ctx")) m.ctx = bus::context_from_json(*c);
    m.ctx.principal.reset();
    if (req.ctx.deadline < m.ctx.deadline) m.ctx.deadline = req.ctx.deadline;
    if (m.ctx.request_id.empty()) m.ctx.request_id = req.ctx.request_id;
    if (m.ctx.correlation_id.empty()) m.ctx.correlation_id = req.ctx.correlation_id;
    return m;
}
}  // namespace

KernelDispatcher::KernelDispatcher(const http::Router& router, bus::InProcessBus& bus, ports::EventLog* events,
                                   std::vector<std::string> hosted, std::string secret, MetricsRegistry* metrics,
                                   Logger log)
    : router_(router), bus_(bus), events_(events), hosted_(std::move(hosted)), secret_(std::move(secret)),
      log_(std::move(log)) {
    if (metrics) {
        failures_ = &metrics->counter("cluster_auth_failures_total",
                                      "Calls between processes refused for a missing or bad cluster signature", {"reason"});
    }
}

void KernelDispatcher::set_public_handler(http::Handler handler) { public_ = std::move(handler); }

bool KernelDispatcher::hosts(std::string_view module) const {
    return module == "kernel" || std::find(hosted_.begin(), hosted_.end(), module) != hosted_.end();
}

http::Response KernelDispatcher::rejected(const http::Request& req, std::string_view reason) {
    if (failures_) failures_->labels({std::string(reason)}).inc();
    log_->warn("cluster call refused reason=\"{}\" method={} path={} remote={}", reason, req.method, req.path, req.remote_ip);
    auto res = http::error_response(401, "cluster authentication required", req.path);
    res.route = "CLUSTER_UNAUTHENTICATED";
    return res;
}

asio::awaitable<http::Response> KernelDispatcher::handle(http::Request req) {
    const bool signed_call = !req.header(kSignatureHeader).empty();
    if (signed_call || starts_with(req.path, kInternal)) {
        auto v = verify(secret_, req.method, req.target, [&](std::string_view n) { return req.header(n); }, req.body,
                        std::chrono::system_clock::now());
        if (!v) co_return rejected(req, v.error().message);
        req.ctx.principal = std::move(v->principal);
        if (auto rid = req.header("X-Request-Id"); !rid.empty()) {
            req.ctx.request_id = std::string(rid);  // the front's id: one id across the processes
            if (auto* scope = current_request()) scope->request_id = req.ctx.request_id;
        }
        if (starts_with(req.path, kInternal)) {
            auto op = internal(std::move(req));
            co_return co_await std::move(op);
        }
        auto op = route(std::move(req), true);
        co_return co_await std::move(op);
    }
    req.ctx.principal.reset();
    if (public_) {
        auto op = public_(std::move(req));
        co_return co_await std::move(op);
    }
    auto op = route(std::move(req), false);
    co_return co_await std::move(op);
}

asio::awaitable<http::Response> KernelDispatcher::route(http::Request req, bool verified) {
    auto m = router_.match(req.method, req.path);
    // A route of a module hosted elsewhere is not found here.
    if (m.kind == http::MatchKind::found && !hosts(m.route->owner)) m.kind = http::MatchKind::not_found;
    if (auto refused = http::routing_error(m, req.path)) co_return std::move(*refused);
    if (!verified && m.route->owner != "kernel") co_return rejected(req, "cluster signature required");
    std::string route = m.route->path;
    std::string path = req.path;
    req.route = route;
    req.path_params = std::move(m.params);
    http::Response res;
    try {
        auto op = m.route->handler(std::move(req));
        res = co_await std::move(op);
    } catch (const std::exception& e) {
        log_->error("handler threw route={} error={}", route, e.what());
        res = http::error_response(500, "internal error", path);
    }
    res.route = std::move(route);
    co_return res;
}

asio::awaitable<http::Response> KernelDispatcher::internal(http::Request req) {
    if (req.method != "POST") {
        auto res = http::error_response(405, "method not allowed", req.path);
        res.set_header("Allow", "POST");
        co_return res;
    }
    const std::string path = req.path;
    http::Response res;
    if (starts_with(path, kCall)) {
        auto msg = decode(req, path.substr(kCall.size()));
        if (!msg) co_return error_reply(msg.error());
        msg->ctx.principal = req.ctx.principal;
        if (!bus_.has_handler(msg->name)) {
            co_return error_reply(Error{Errc::not_found, "no handler for command " + msg->name + " in this process"});
        }
        auto op = bus_.call_named(msg->name, std::move(msg->body), std::move(msg->ctx));
        auto r = co_await std::move(op);
        res = r ? http::Response::json(200, json::object{{"body", r->json()}}) : error_reply(r.error());
        res.route = "/internal/bus/call/{name}";
    } else if (starts_with(path, kEvent)) {
        auto msg = decode(req, path.substr(kEvent.size()));
        if (!msg) co_return error_reply(msg.error());
        msg->ctx.principal = req.ctx.principal;
        auto op = bus_.deliver_named(msg->name, std::move(msg->body), std::move(msg->ctx));
        auto r = co_await std::move(op);
        res = r ? http::Response::empty(204) : error_reply(r.error());
        res.route = "/internal/bus/event/{topic}";
    } else if (starts_with(path, kEvents)) {
        if (!events_) co_return error_reply(Error{Errc::unavailable, "no event log in this process"});
        boost::system::error_code ec;
        auto v = json::parse(req.body, ec);
        if (ec || !v.is_object() || !v.as_object().contains("value") || !v.as_object().at("value").is_string()) {
            co_return error_reply(Error{Errc::invalid_argument, "event record needs a string value"});
        }
        auto& o = v.as_object();
        std::string key = o.contains("key") && o.at("key").is_string() ? std::string(o.at("key").as_string()) : "";
        auto r = events_->append(path.substr(kEvents.size()), key, std::string(o.at("value").as_string()));
        res = r ? http::Response::json(200, json::object{{"partition", r->partition}, {"offset", r->offset}})
                : error_reply(r.error());
        res.route = "/internal/events/{topic}";
    } else {
        res = http::error_response(404, "not found", path);
        res.route = "NOT_FOUND";
    }
    co_return res;
}

}  // namespace lt::cluster
