#include "app.hpp"

#include <stdexcept>
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <map>
#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "adapter_factory.hpp"
#include "config_refresh.hpp"
#include "console_routes.hpp"
#include "lt/bus/in_process_bus.hpp"
#include "lt/core/actuator.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/broadcast_bridge.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/io_pool.hpp"
#include "lt/core/instrumented_ports.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/tracer.hpp"
#include "lt/core/module.hpp"
#include "lt/core/time.hpp"
#include "lt/auth/auth.hpp"
#include "lt/cluster/forwarder.hpp"
#include "lt/cluster/forwarding_event_log.hpp"
#include "lt/cluster/kernel_dispatcher.hpp"
#include "lt/cluster/registry_client.hpp"
#include "lt/cluster/remote_bus.hpp"
#include "lt/http/client.hpp"
#include "lt/http/router.hpp"
#include "lt/http/server.hpp"
#include "module_list.hpp"

namespace asio = boost::asio;

namespace lt::app {

namespace {
http::ServerOptions server_options(const config::Config& c) {
    http::ServerOptions o;
    o.address = c.get_string("server.address", o.address);
    o.port = static_cast<std::uint16_t>(c.get_int("server.port", o.port));
    o.body_limit = static_cast<std::size_t>(c.get_int("server.body-limit", static_cast<std::int64_t>(o.body_limit)));
    o.header_limit = static_cast<std::size_t>(c.get_int("server.header-limit", static_cast<std::int64_t>(o.header_limit)));
    o.max_connections =
        static_cast<std::size_t>(c.get_int("server.max-connections", static_cast<std::int64_t>(o.max_connections)));
    o.max_connections_per_ip = static_cast<std::size_t>(
        c.get_int("server.max-connections-per-ip", static_cast<std::int64_t>(o.max_connections_per_ip)));
    o.max_in_flight = static_cast<std::size_t>(c.get_int("server.max-in-flight", static_cast<std::int64_t>(o.max_in_flight)));
    o.read_timeout = c.get_duration("server.read-timeout", o.read_timeout);
    o.idle_timeout = c.get_duration("server.idle-timeout", o.idle_timeout);
    o.request_timeout = c.get_duration("server.request-timeout", o.request_timeout);
    o.tls.enabled = c.get_bool("server.ssl.enabled", false);
    o.tls.certificate = c.get_string("server.ssl.certificate");
    o.tls.private_key = c.get_string("server.ssl.certificate-private-key");
    o.tls.redirect_http_port = static_cast<std::uint16_t>(c.get_int("server.ssl.redirect-http-port", 0));
    o.cors.enabled = c.get_bool("cors.enabled", false);
    o.cors.allowed_origins = c.get_list("cors.allowed-origins");
    if (c.has("cors.allowed-methods")) o.cors.allowed_methods = c.get_list("cors.allowed-methods");
    if (c.has("cors.allowed-headers")) o.cors.allowed_headers = c.get_list("cors.allowed-headers");
    o.cors.allow_credentials = c.get_bool("cors.allow-credentials", false);
    o.cors.max_age = std::chrono::duration_cast<std::chrono::seconds>(c.get_duration("cors.max-age", std::chrono::hours(1)));
    return o;
}

std::size_t thread_count(const config::Config& c) {
    auto n = c.get_int("server.threads", 0);
    if (n > 0) return static_cast<std::size_t>(n);
    auto hw = std::thread::hardware_concurrency();
    return hw == 0 ? 2 : hw;
}

std::string cluster_secret(const config::Config& c) {
    auto s = c.get_string("cluster.secret", "");
    if (s.empty()) {
        if (const char* env = std::getenv("LEAKY_CLUSTER_SECRET")) s = env;
    }
    return s;
}

/// server.access-log (off | stdout | a file); log.access=false turns it off too.
std::string access_log_target(const config::Config& c) {
    if (!c.get_bool("log.access", true)) return "off";
    return c.get_string("server.access-log", "stdout");
}

/// The server's logger (access lines buffered off the I/O threads). Start-up: throws when the file
/// cannot be opened (App::create reports it).
Logger access_logger(const config::Config& c, MetricsRegistry& metrics) {
    auto logger = make_access_logger(access_log_target(c), c, &metrics);
    if (!logger) throw std::runtime_error(logger.error().message);
    return *logger;
}
}  // namespace

struct App::Impl {
    explicit Impl(config::Config c)
        : cfg(std::move(c)),
          threads_n(thread_count(cfg)),
          pool(threads_n),
          io(pool.main()),
          blocking(static_cast<std::size_t>(std::max<std::int64_t>(1, cfg.get_int("server.blocking-threads", 4)))),
          log(make_logger("app", cfg)),
          tracer(tracer_options(cfg), &metrics),
          bus(io.get_executor(), make_logger("bus", cfg), &metrics),
          client(io.get_executor()),
          server(pool, server_options(cfg), access_logger(cfg, metrics), &metrics),
          signals(io),
          hangup(io) {
        bus.set_codec_check(cfg.get_bool("bus.codec-check", false));
    }

    config::Config cfg;
    std::size_t threads_n;
    IoPool pool;
    asio::io_context& io;  ///< pool.main()
    BlockingPool blocking;
    Logger log;
    SystemClock clock;
    MetricsRegistry metrics;
    Tracer tracer;  ///< before the server, the bus and the modules, which use it: destroyed after them
    bus::InProcessBus bus;
    http::Client client;
    http::Router router;
    http::Server server;
    asio::signal_set signals;
    asio::signal_set hangup;  ///< SIGHUP: reload the TLS certificate
    bool reload_on_hangup = false;
    Adapters adapters;

    /// Waits for SIGHUP and reloads the TLS certificate on the blocking pool (file reads), again and again.
    void arm_hangup() {
        hangup.async_wait([this](const boost::system::error_code& ec, int) {
            if (ec) return;
            asio::post(blocking.executor(), [this] { (void)server.reload_tls(); });
            arm_hangup();
        });
    }
    std::vector<std::unique_ptr<Module>> modules;
    std::vector<std::string> hosted;
    // Split mode (registry.url set); null in one process.
    std::string secret;
    std::unique_ptr<cluster::RegistryClient> registry;
    std::unique_ptr<cluster::Forwarder> forwarder;
    std::unique_ptr<cluster::RemoteBus> remote_bus;
    std::unique_ptr<cluster::ForwardingEventLog> forwarding_events;
    /// Auth events to every process sharing a durable event log (null with the memory log).
    std::unique_ptr<BroadcastBridge> broadcast;
    std::unique_ptr<cluster::KernelDispatcher> kernel;
    /// POST /actuator/refresh and config.changed.v1.
    std::unique_ptr<ConfigRefresher> refresher;
    bool running = false;
    std::mutex status_mutex;  ///< guards status
    std::vector<ModuleStatus> status;
    std::atomic<bool> stopping{false};
    std::promise<void> stopped;

    void set_status(std::string_view name, const char* s) {
        std::lock_guard lock(status_mutex);
        for (auto& m : status) {
            if (m.name == name) m.status = s;
        }
    }

    asio::awaitable<Result<void>> start_modules() {
        if (registry) {
            auto op = registry->fetch_once();
            co_await std::move(op);
        }
        for (auto& m : modules) {
            auto r = co_await m->start();
            if (!r) {
                set_status(m->name(), "DOWN");
                co_return fail(r.error().code, "module " + std::string(m->name()) + " failed to start: " + r.error().message);
            }
            set_status(m->name(), "UP");
            log->info("module started name={}", m->name());
        }
        if (broadcast) {
            if (auto r = broadcast->start(); !r) co_return fail(r.error().code, "broadcast bridge: " + r.error().message);
        }
        try {
            auto* k = kernel.get();
            server.start([k](http::Request r) { return k->handle(std::move(r)); });
        } catch (const std::exception& e) {
            co_return fail(Errc::unavailable, std::string("cannot listen: ") + e.what());
        }
        log->info("listening port={}", server.port());
        if (registry) {
            auto advertise = cfg.get_string("server.advertise-url", "");
            if (advertise.empty()) advertise = "http://127.0.0.1:" + std::to_string(server.port());
            registry->start(advertise);
        }
        co_return ok();
    }

    asio::awaitable<void> drain_and_stop() {
        auto deadline = std::chrono::steady_clock::now() + cfg.get_duration("server.shutdown-timeout", std::chrono::seconds(10));
        if (registry) {
            auto op = registry->stop();  // deregister first: the others stop sending here
            co_await std::move(op);
        }
        log->info("shutting down in_flight={}", server.in_flight());
        server.begin_drain();
        asio::steady_timer timer(io);
        while (server.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
            timer.expires_after(std::chrono::milliseconds(5));
            co_await timer.async_wait(asio::use_awaitable);
        }
        server.close_all();
        if (broadcast) broadcast->stop();
        for (auto it = modules.rbegin(); it != modules.rend(); ++it) {
            set_status((*it)->name(), "STOPPING");
            co_await (*it)->stop();
            set_status((*it)->name(), "DOWN");
        }
        boost::system::error_code ignored;
        signals.cancel(ignored);
        hangup.cancel(ignored);
        log->info("stopped");
        pool.stop();
    }
};

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

App::~App() {
    if (!impl_) return;
    shutdown();
    wait();
}

Result<std::unique_ptr<App>> App::create(config::Config cfg, AppOptions options) {
    std::unique_ptr<Impl> impl;
    try {
        impl = std::make_unique<Impl>(std::move(cfg));
    } catch (const std::exception& e) {
        return fail(Errc::invalid_argument, e.what());
    }
    auto& s = *impl;
    s.server.set_access_log(access_log_target(s.cfg) != "off");
    s.server.set_tracer(&s.tracer);
    s.bus.set_tracer(&s.tracer);
    auto adapters = make_adapters(s.cfg, s.blocking, s.clock, s.io.get_executor());
    if (!adapters) return fail(adapters.error());
    s.adapters = std::move(*adapters);
    // Store latency histograms and store spans: one decorator per port, here and nowhere else.
    s.adapters.sql = instrument_sql(std::move(s.adapters.sql), s.metrics, "main", &s.tracer);
    s.adapters.kv = instrument_kv(std::move(s.adapters.kv), s.metrics, &s.tracer,
                                  s.cfg.get_string("storage.kv.driver", "memory"));
    s.adapters.events = instrument_event_log(std::move(s.adapters.events), s.metrics, &s.tracer,
                                             s.cfg.get_string("storage.events.driver", "memory"));

    for (const auto& name : options.modules) {
        const auto& list = module_list();
        if (std::none_of(list.begin(), list.end(), [&](const ModuleSpec& m) { return m.name == name; })) {
            return fail(Errc::invalid_argument, "unknown module '" + name + "'");
        }
    }
    auto& hosted = s.hosted;
    for (const auto& spec : module_list()) {
        if (options.modules.empty() ||
            std::find(options.modules.begin(), options.modules.end(), spec.name) != options.modules.end()) {
            hosted.emplace_back(spec.name);
        }
    }

    // Split mode: the registry client (the Directory), signed calls, the remote bus and, over the
    // in-memory event log, the forwarding of appends to consumers hosted elsewhere.
    s.secret = cluster_secret(s.cfg);
    const auto registry_url = s.cfg.get_string("registry.url", "");
    bus::Bus* bus = &s.bus;
    ports::EventLog* events = s.adapters.events.get();
    if (!registry_url.empty()) {
        if (s.secret.empty()) {
            return fail(Errc::invalid_argument,
                        "cluster.secret (or LEAKY_CLUSTER_SECRET) is required when registry.url is set");
        }
        auto cluster_log = make_logger("cluster", s.cfg);
        cluster::RegistryOptions ro;
        const bool self_registry = std::find(hosted.begin(), hosted.end(), "registry") != hosted.end();
        ro.registry_url = self_registry ? std::string() : registry_url;  // empty: itself, once listening
        ro.modules = hosted;
        ro.secret = s.secret;
        ro.heartbeat = s.cfg.get_duration("registry.heartbeat-interval", ro.heartbeat);
        ro.fetch = s.cfg.get_duration("registry.fetch-interval", ro.fetch);
        s.registry = std::make_unique<cluster::RegistryClient>(s.io.get_executor(), s.client, ro, cluster_log);
        s.forwarder = std::make_unique<cluster::Forwarder>(*s.registry, s.client, s.secret, cluster_log);
        auto* reg = s.registry.get();
        s.remote_bus = std::make_unique<cluster::RemoteBus>(s.bus, *s.registry, *s.forwarder,
                                                            [reg] { return reg->advertise_url(); },
                                                            s.io.get_executor(), cluster_log);
        bus = s.remote_bus.get();
        if (events && s.cfg.get_string("storage.events.driver", "memory") == "memory") {
            std::map<std::string, std::vector<std::string>> consumers;
            consumers[s.cfg.get_string("token.usage.topic", "token-usage")] = {"analytics"};
            consumers[s.cfg.get_string("token.purchase.topic", "token-purchase-events")] = {"analytics", "token"};
            s.forwarding_events = std::make_unique<cluster::ForwardingEventLog>(*events, *s.forwarder, s.io,
                                                                                std::move(consumers), hosted, cluster_log);
            events = s.forwarding_events.get();
        }
    }
    s.kernel = std::make_unique<cluster::KernelDispatcher>(s.router, s.bus, s.adapters.events.get(), hosted, s.secret,
                                                           &s.metrics, make_logger("cluster", s.cfg));

    for (const auto& spec : module_list()) {
        const bool host = std::find(hosted.begin(), hosted.end(), spec.name) != hosted.end();
        // Routes as data: the routes of a module hosted elsewhere are known from its contract, and
        // the gateway proxies them to an instance found in the registry.
        if (!host && !s.registry) continue;
        try {
            s.router.declare(spec.name, spec.routes);
        } catch (const std::exception& e) {
            return fail(Errc::internal, "module " + std::string(spec.name) + ": " + e.what());
        }
        if (!host) continue;
        ModuleContext ctx;
        ctx.io = &s.io;
        ctx.blocking = &s.blocking;
        ctx.bus = bus;
        ctx.config = &s.cfg;
        ctx.clock = &s.clock;
        ctx.metrics = &s.metrics;
        ctx.log = make_logger(std::string(spec.name), s.cfg);
        ctx.tracer = &s.tracer;
        ctx.http_client = &s.client;
        ctx.sql = s.adapters.sql.get();
        ctx.kv = s.adapters.kv.get();
        ctx.events = events;
        ctx.usage = s.adapters.usage.get();
        ctx.routes = &s.router;
        ctx.server = &s.server;
        ctx.kernel = s.kernel.get();
        ctx.directory = s.registry.get();
        ctx.forwarder = s.forwarder.get();
        ctx.hosted = hosted;
        auto m = spec.make(std::move(ctx));
        if (!m) return fail(m.error().code, "module " + std::string(spec.name) + ": " + m.error().message);
        s.modules.push_back(std::move(*m));
        s.status.push_back({std::string(spec.name), "STARTING"});
    }
    try {
        for (auto& m : s.modules) m->register_routes(s.router);
        if (auto problem = s.router.verify(hosted); !problem.empty()) return fail(Errc::internal, problem);
        Impl* raw = &s;
        ActuatorInfo info{LT_VERSION, hosted, compiled_adapters(), options.profile, [raw] {
                              std::lock_guard lock(raw->status_mutex);
                              return raw->status;
                          }};
        // Network stores name themselves in health and readiness (CONTRACT 31).
        // The embedded stores are in-process and always UP; only the network ones are listed.
        const bool postgres = s.cfg.get_string("storage.sql.driver", "sqlite") == "postgres";
        const bool redis_kv = s.cfg.get_string("storage.kv.driver", "memory") == "redis";
        const bool kafka = s.cfg.get_string("storage.events.driver", "memory") == "kafka";
        info.stores = [raw, postgres, redis_kv, kafka] {
            auto state = [](bool up) { return up ? "UP" : "DOWN"; };
            std::vector<ModuleStatus> out;
            const auto& a = raw->adapters;
            if (postgres) {
                const bool up = a.sql->available() && (!a.usage_sql || a.usage_sql->available());
                out.push_back({"db", state(up)});
            }
            if (redis_kv) out.push_back({"redis", state(a.kv->available())});
            if (kafka) out.push_back({"kafka", state(a.events->available())});
            return out;
        };
        info.application = s.cfg.get_string("metrics.application", "");
        register_actuator_routes(s.router, s.metrics, std::move(info));
        ConfigRefresher::Options refresh{s.cfg, options.load, options.profile, {}, hosted, new_uuid()};
        for (auto& m : s.modules) refresh.modules.push_back(m.get());
        auto refresh_log = make_logger("refresh", s.cfg);
        s.refresher = std::make_unique<ConfigRefresher>(
            std::move(refresh), *bus, s.blocking, http::ClusterGuard("kernel", s.secret, s.clock, &s.metrics, refresh_log),
            refresh_log);
        s.refresher->register_route(s.router);
        register_console_routes(s.router);
    } catch (const std::exception& e) {
        return fail(Errc::internal, e.what());
    }
    for (auto& m : s.modules) m->register_handlers(*bus);
    s.refresher->register_handlers(*bus);
    if (s.adapters.events && s.adapters.events->durable()) {
        // Processes sharing Kafka see each other's auth events within one poll (CONTRACT 13, 30):
        // a key revoked through one gateway is refused by every other.
        s.broadcast = std::make_unique<BroadcastBridge>(
            s.bus, *s.adapters.events, s.blocking, s.io.get_executor(),
            std::vector<std::string>{std::string(auth::kApiKeyRevoked.name), std::string(auth::kTokenRevoked.name),
                                     std::string(auth::kKeysRotated.name), std::string(auth::kUserRolesChanged.name)},
            new_uuid(), make_logger("broadcast", s.cfg));
        s.broadcast->register_handlers();
    }
    if (!s.registry) {
        // One process: every command a hosted module calls must have its handler here (CONTRACT 33).
        std::vector<std::string> missing;
        std::string detail;
        for (const auto& spec : module_list()) {
            if (std::find(hosted.begin(), hosted.end(), spec.name) == hosted.end()) continue;
            for (auto cmd : spec.calls) {
                if (s.bus.has_handler(std::string(cmd))) continue;
                auto owner = cluster::owner_of_command(cmd);
                if (std::find(missing.begin(), missing.end(), owner) == missing.end()) missing.push_back(owner);
                detail += (detail.empty() ? "" : ", ") + std::string(spec.name) + " calls " + std::string(cmd);
            }
        }
        if (!missing.empty()) {
            std::string names;
            for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
            return fail(Errc::invalid_argument, "missing modules: " + names + " (" + detail +
                                                    "); host them too, or set registry.url and cluster.secret for split mode");
        }
    }
    if (options.handle_signals) {
        s.signals.add(SIGINT);
        s.signals.add(SIGTERM);
        if (s.cfg.get_bool("server.ssl.enabled", false)) {
            s.hangup.add(SIGHUP);
            s.reload_on_hangup = true;
        }
    }
    return std::unique_ptr<App>(new App(std::move(impl)));
}

Result<void> App::start() {
    auto& s = *impl_;
    s.pool.run();
    s.running = true;
    App* self = this;
    s.signals.async_wait([self](const boost::system::error_code& ec, int) {
        if (!ec) self->shutdown();
    });
    if (s.reload_on_hangup) s.arm_hangup();
    auto fut = asio::co_spawn(s.io, s.start_modules(), asio::use_future);
    auto r = fut.get();
    if (!r) {
        shutdown();
        wait();
        return r;
    }
    return ok();
}

std::uint16_t App::port() const { return impl_->server.port(); }

ports::EventLog& App::event_log() { return *impl_->adapters.events; }

void App::shutdown() {
    auto& s = *impl_;
    if (s.stopping.exchange(true)) return;
    if (!s.running) {
        s.pool.stop();
        return;
    }
    asio::co_spawn(s.io, s.drain_and_stop(), asio::detached);
}

int App::wait() {
    auto& s = *impl_;
    s.pool.join();
    s.blocking.stop();
    return 0;
}

}  // namespace lt::app
