#include "lt/cluster/registry_client.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "lt/core/crypto.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace lt::cluster {

namespace {

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
std::string str(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
template <class F>
void each(const json::value* v, F f) {
    if (!v) return;
    if (v->is_array()) {
        for (const auto& e : v->as_array()) {
            if (e.is_object()) f(e.as_object());
        }
    } else if (v->is_object()) {
        f(v->as_object());
    }
}

}  // namespace

Result<std::vector<Instance>> parse_eureka_apps(const json::value& v) {
    if (!v.is_object()) return fail(Errc::bad_gateway, "registry answer is not an object");
    auto* apps = v.as_object().if_contains("applications");
    if (!apps || !apps->is_object()) return fail(Errc::bad_gateway, "registry answer without applications");
    std::vector<Instance> out;
    each(apps->as_object().if_contains("application"), [&](const json::object& app) {
        each(app.if_contains("instance"), [&](const json::object& in) {
            Instance i;
            i.module = lower(str(in, "app").empty() ? str(app, "name") : str(in, "app"));
            i.instance_id = str(in, "instanceId");
            i.url = str(in, "homePageUrl");
            if (i.url.empty()) {
                std::string port;
                if (auto* p = in.if_contains("port")) {
                    if (p->is_object()) {
                        if (auto* d = p->as_object().if_contains("$")) {
                            port = d->is_int64() ? std::to_string(d->as_int64()) : (d->is_string() ? std::string(d->as_string()) : "");
                        }
                    } else if (p->is_int64()) {
                        port = std::to_string(p->as_int64());
                    }
                }
                if (!str(in, "hostName").empty() && !port.empty()) i.url = "http://" + str(in, "hostName") + ":" + port;
            }
            while (!i.url.empty() && i.url.back() == '/') i.url.pop_back();
            auto status = str(in, "status");
            i.up = status.empty() || status == "UP";
            if (!i.module.empty() && !i.url.empty() && i.up) out.push_back(std::move(i));
        });
    });
    return out;
}

struct RegistryClient::State : std::enable_shared_from_this<RegistryClient::State> {
    State(asio::any_io_executor e, http::Client& c, RegistryOptions o, Logger l)
        : ex(std::move(e)), client(c), opt(std::move(o)), log(std::move(l)), heartbeat_timer(ex), fetch_timer(ex) {}

    asio::any_io_executor ex;
    http::Client& client;
    RegistryOptions opt;
    Logger log;
    asio::steady_timer heartbeat_timer;
    asio::steady_timer fetch_timer;
    std::atomic<bool> stopped{false};
    mutable std::mutex mutex;  ///< guards table, advertise, fetch_failing
    std::vector<Instance> table;
    bool fetch_failing = false;

    std::string advertise() const {
        std::lock_guard lock(mutex);
        return opt.advertise_url;
    }
    std::string instance_id(const std::string& module) const {
        auto a = advertise();
        auto pos = a.find("://");
        auto hostport = pos == std::string::npos ? a : a.substr(pos + 3);
        hostport = hostport.substr(0, hostport.find('/'));
        return hostport + ":" + module;
    }

    asio::awaitable<Result<http::ClientResponse>> send(std::string method, std::string path, std::string body) {
        auto url = http::parse_url(opt.registry_url);
        if (!url) co_return fail(url.error());
        http::ClientRequest req;
        req.method = method;
        req.target = url->base_path + path;
        req.body = std::move(body);
        req.headers.push_back({"Accept", "application/json"});
        if (!req.body.empty()) req.headers.push_back({"Content-Type", "application/json"});
        auto rid = crypto::random_hex(8);
        req.headers.push_back({"X-Request-Id", rid});
        for (auto& [n, v] : sign(opt.secret, req.method, req.target, std::nullopt, rid, crypto::sha256_hex(req.body),
                                 std::chrono::system_clock::now())) {
            req.headers.push_back({std::move(n), std::move(v)});
        }
        auto op = client.request(url->host, url->port, std::move(req), opt.timeout);
        co_return co_await std::move(op);
    }

    json::value instance_json(const std::string& module) const {
        auto a = advertise();
        auto url = http::parse_url(a);
        std::string host = url ? url->host : "127.0.0.1";
        std::int64_t port = url ? url->port : 80;
        const auto hb = std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(opt.heartbeat).count());
        return json::object{{"instance", json::object{
                                             {"instanceId", instance_id(module)},
                                             {"hostName", host},
                                             {"app", upper(module)},
                                             {"ipAddr", host},
                                             {"vipAddress", module},
                                             {"status", "UP"},
                                             {"port", json::object{{"$", port}, {"@enabled", "true"}}},
                                             {"homePageUrl", a},
                                             {"statusPageUrl", a + "/actuator/info"},
                                             {"healthCheckUrl", a + "/actuator/health"},
                                             {"dataCenterInfo", json::object{{"@class", "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"},
                                                                             {"name", "MyOwn"}}},
                                             {"leaseInfo", json::object{{"renewalIntervalInSecs", hb}, {"durationInSecs", hb * 3}}},
                                         }}};
    }

    asio::awaitable<bool> register_one(const std::string& module) {
        auto op = send("POST", "/eureka/apps/" + upper(module), json::serialize(instance_json(module)));
        auto r = co_await std::move(op);
        if (!r || r->status / 100 != 2) {
            log->warn("registration failed module={} registry={} error={}", module, opt.registry_url,
                      r ? "status " + std::to_string(r->status) : r.error().message);
            co_return false;
        }
        log->info("registered module={} instance={}", module, instance_id(module));
        co_return true;
    }

    asio::awaitable<void> renew_all() {
        for (const auto& m : opt.modules) {
            auto op = send("PUT", "/eureka/apps/" + upper(m) + "/" + instance_id(m), "");
            auto r = co_await std::move(op);
            if (r && r->status == 404) {
                auto reg = register_one(m);
                co_await std::move(reg);
            } else if (!r || r->status / 100 != 2) {
                log->warn("lease renewal failed module={} error={}", m, r ? "status " + std::to_string(r->status) : r.error().message);
            }
        }
    }

    asio::awaitable<void> fetch() {
        if (opt.registry_url.empty()) co_return;  // the registry is this process, not listening yet
        auto op = send("GET", "/eureka/apps", "");
        auto r = co_await std::move(op);
        std::string why;
        if (!r) {
            why = r.error().message;
        } else if (r->status != 200) {
            why = "status " + std::to_string(r->status);
        } else {
            boost::system::error_code ec;
            auto v = json::parse(r->body, ec);
            if (ec) {
                why = "unparsable answer";
            } else if (auto parsed = parse_eureka_apps(v); !parsed) {
                why = parsed.error().message;
            } else {
                std::lock_guard lock(mutex);
                table = std::move(*parsed);
                if (fetch_failing) log->info("registry reachable again instances={}", table.size());
                fetch_failing = false;
                co_return;
            }
        }
        std::lock_guard lock(mutex);
        if (!fetch_failing) log->warn("registry fetch failed, keeping the last table registry={} error={}", opt.registry_url, why);
        fetch_failing = true;
    }

    static asio::awaitable<void> heartbeat_loop(std::shared_ptr<State> self) {
        for (const auto& m : self->opt.modules) {
            auto op = self->register_one(m);
            co_await std::move(op);
        }
        for (;;) {
            self->heartbeat_timer.expires_after(self->opt.heartbeat);
            boost::system::error_code ec;
            co_await self->heartbeat_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (ec || self->stopped) co_return;
            auto op = self->renew_all();
            co_await std::move(op);
        }
    }

    static asio::awaitable<void> fetch_loop(std::shared_ptr<State> self) {
        for (;;) {
            auto op = self->fetch();
            co_await std::move(op);
            self->fetch_timer.expires_after(self->opt.fetch);
            boost::system::error_code ec;
            co_await self->fetch_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (ec || self->stopped) co_return;
        }
    }
};

RegistryClient::RegistryClient(asio::any_io_executor ex, http::Client& client, RegistryOptions options, Logger log)
    : state_(std::make_shared<State>(std::move(ex), client, std::move(options), std::move(log))) {}

RegistryClient::~RegistryClient() = default;

std::vector<Instance> RegistryClient::instances(std::string_view module) const {
    std::lock_guard lock(state_->mutex);
    std::vector<Instance> out;
    for (const auto& i : state_->table) {
        if (i.module == module && i.up) out.push_back(i);
    }
    return out;
}

std::vector<Instance> RegistryClient::all() const {
    std::lock_guard lock(state_->mutex);
    return state_->table;
}

std::string RegistryClient::advertise_url() const { return state_->advertise(); }

asio::awaitable<void> RegistryClient::fetch_once() {
    auto op = state_->fetch();
    co_await std::move(op);
}

void RegistryClient::start(std::string advertise_url) {
    {
        std::lock_guard lock(state_->mutex);
        state_->opt.advertise_url = std::move(advertise_url);
        while (!state_->opt.advertise_url.empty() && state_->opt.advertise_url.back() == '/') state_->opt.advertise_url.pop_back();
        if (state_->opt.registry_url.empty()) state_->opt.registry_url = state_->opt.advertise_url;
    }
    asio::co_spawn(state_->ex, State::heartbeat_loop(state_), asio::detached);
    asio::co_spawn(state_->ex, State::fetch_loop(state_), asio::detached);
}

asio::awaitable<void> RegistryClient::stop() {
    if (state_->stopped.exchange(true)) co_return;
    state_->heartbeat_timer.cancel();
    state_->fetch_timer.cancel();
    for (const auto& m : state_->opt.modules) {
        auto op = state_->send("DELETE", "/eureka/apps/" + upper(m) + "/" + state_->instance_id(m), "");
        auto r = co_await std::move(op);
        if (!r || r->status / 100 != 2) {
            state_->log->warn("deregistration failed module={} error={}", m,
                              r ? "status " + std::to_string(r->status) : r.error().message);
        } else {
            state_->log->info("deregistered module={}", m);
        }
    }
}

}  // namespace lt::cluster
