#include "lt/cluster/remote_bus.hpp"

#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

namespace asio = boost::asio;
namespace json = boost::json;

namespace lt::cluster {

namespace {
Errc errc_of_status(int status) {
    switch (status) {
        case 400: return Errc::invalid_argument;
        case 403: return Errc::forbidden;
        case 404: return Errc::not_found;
        case 409: return Errc::conflict;
        case 402: return Errc::payment_required;
        case 429: return Errc::rate_limited;
        case 504: return Errc::timeout;
        case 502: return Errc::bad_gateway;
        case 500: return Errc::internal;
        default: return Errc::unavailable;  // 401 here is a rejected cluster signature: a peer we cannot use
    }
}
}  // namespace

std::string encode_bus_message(const json::value& body, const bus::Context& ctx) {
    auto c = ctx;
    c.principal.reset();
    return json::serialize(json::object{{"body", body}, {"ctx", bus::to_json(c)}});
}

RemoteBus::RemoteBus(bus::InProcessBus& local, const Directory& directory, Forwarder& forwarder,
                     std::function<std::string()> self_url, asio::any_io_executor ex, Logger log)
    : local_(local), directory_(directory), forwarder_(forwarder), self_url_(std::move(self_url)), ex_(std::move(ex)),
      log_(std::move(log)) {}

void RemoteBus::handle_named(std::string name, bus::CommandHandler handler) {
    local_.handle_named(std::move(name), std::move(handler));
}

bool RemoteBus::has_handler(const std::string& name) const {
    return local_.has_handler(name) || !owner_of_command(name).empty();
}

asio::awaitable<Result<bus::Payload>> RemoteBus::call_named(std::string name, bus::Payload body, bus::Context ctx) {
    if (local_.has_handler(name)) {
        auto op = local_.call_named(std::move(name), std::move(body), std::move(ctx));
        co_return co_await std::move(op);
    }
    auto module = owner_of_command(name);
    if (module.empty()) co_return fail(Errc::not_found, "no handler for command " + name);
    if (ctx.remaining_ms() <= 0) co_return fail(Errc::timeout, "deadline passed before " + name);
    Call c;
    c.request.method = "POST";
    c.request.target = "/internal/bus/call/" + name;
    c.request.headers.push_back({"Content-Type", "application/json"});
    c.request.body = encode_bus_message(body.json(), ctx);  // the only place a call is encoded
    c.principal = ctx.principal;
    c.request_id = ctx.request_id;
    c.deadline = ctx.deadline;
    auto op = forwarder_.send(module, std::move(c), true);
    auto res = co_await std::move(op);
    if (!res) co_return fail(res.error().code, res.error().message);
    boost::system::error_code ec;
    auto v = json::parse(res->body, ec);
    if (res->status == 200) {
        if (ec || !v.is_object() || !v.as_object().contains("body")) co_return fail(Errc::bad_gateway, "bad reply to " + name);
        co_return bus::Payload(std::move(v.as_object()["body"]));
    }
    if (!ec && v.is_object()) {
        auto& o = v.as_object();
        auto* code = o.if_contains("code");
        auto* msg = o.if_contains("message");
        if (code && code->is_string()) {
            co_return fail(errc_from_string(code->as_string()), msg && msg->is_string() ? std::string(msg->as_string()) : name);
        }
    }
    if (res->status == 401) log_->error("peer rejected our cluster signature command={} (check cluster.secret)", name);
    co_return fail(errc_of_status(res->status), "command " + name + " failed with status " + std::to_string(res->status));
}

std::vector<Instance> RemoteBus::peers() const {
    const auto self = self_url_();
    std::set<std::string> seen{self};
    std::vector<Instance> out;
    for (auto& i : directory_.all()) {
        if (seen.insert(i.url).second) out.push_back(i);
    }
    return out;
}

asio::awaitable<void> RemoteBus::send_event(Instance peer, std::string topic, std::string payload, bus::Context ctx) {
    Call c;
    c.request.method = "POST";
    c.request.target = "/internal/bus/event/" + topic;
    c.request.headers.push_back({"Content-Type", "application/json"});
    c.request.body = std::move(payload);
    c.principal = ctx.principal;
    c.request_id = ctx.request_id;
    c.deadline = std::min(ctx.deadline, std::chrono::steady_clock::now() + kEventTimeout);
    auto op = forwarder_.send_to(peer, std::move(c));
    auto res = co_await std::move(op);
    if (!res || res->status / 100 != 2) {
        log_->warn("event delivery to peer failed topic={} peer={} error={}", topic, peer.url,
                   res ? "status " + std::to_string(res->status) : res.error().message);
    }
}

Result<void> RemoteBus::publish_named(std::string topic, bus::Payload event, bus::Context ctx) {
    auto targets = peers();
    if (targets.empty()) return local_.publish_named(std::move(topic), std::move(event), std::move(ctx));
    auto payload = encode_bus_message(event.json(), ctx);
    for (auto& peer : targets) {
        asio::co_spawn(ex_, send_event(std::move(peer), topic, payload, ctx), asio::detached);
    }
    return local_.publish_named(std::move(topic), std::move(event), std::move(ctx));
}

asio::awaitable<Result<void>> RemoteBus::deliver_named(std::string topic, bus::Payload event, bus::Context ctx) {
    auto targets = peers();
    if (!targets.empty()) {
        auto payload = encode_bus_message(event.json(), ctx);
        // Every peer at once, each within its own deadline; failures are logged by send_event.
        using Op = decltype(asio::co_spawn(ex_, send_event(Instance{}, topic, payload, ctx), asio::deferred));
        std::vector<Op> ops;
        ops.reserve(targets.size());
        for (auto& peer : targets) ops.push_back(asio::co_spawn(ex_, send_event(std::move(peer), topic, payload, ctx), asio::deferred));
        auto group = asio::experimental::make_parallel_group(std::move(ops));
        auto all = group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
        co_await std::move(all);
    }
    auto op = local_.deliver_named(std::move(topic), std::move(event), std::move(ctx));
    co_return co_await std::move(op);
}

void RemoteBus::subscribe_named(std::string topic, std::string group, bus::EventHandler handler) {
    local_.subscribe_named(std::move(topic), std::move(group), std::move(handler));
}

}  // namespace lt::cluster
