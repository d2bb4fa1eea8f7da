#include "app.hpp"

#include <csignal>
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
#include "lt/bus/in_process_bus.hpp"
#include "lt/core/actuator.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/io_pool.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/module.hpp"
#include "lt/http/bus_binding.hpp"
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
    o.max_in_flight = static_cast<std::size_t>(c.get_int("server.max-in-flight", static_cast<std::int64_t>(o.max_in_flight)));
    o.read_timeout = c.get_duration("server.read-timeout", o.read_timeout);
    o.idle_timeout = c.get_duration("server.idle-timeout", o.idle_timeout);
    o.request_timeout = c.get_duration("server.request-timeout", o.request_timeout);
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
}  // namespace

struct App::Impl {
    explicit Impl(config::Config c)
        : cfg(std::move(c)),
          threads_n(thread_count(cfg)),
          pool(threads_n),
          io(pool.main()),
          blocking(static_cast<std::size_t>(std::max<std::int64_t>(1, cfg.get_int("server.blocking-threads", 4)))),
          log(make_logger("app", cfg.get_string("log.level", "info"))),
          bus(io.get_executor(), make_logger("bus", cfg.get_string("log.level", "info")), &metrics),
          client(io.get_executor()),
          server(pool, server_options(cfg), make_logger("access", cfg.get_string("log.level", "info")), &metrics),
          signals(io) {}

    config::Config cfg;
    std::size_t threads_n;
    IoPool pool;
    asio::io_context& io;  ///< pool.main()
    BlockingPool blocking;
    Logger log;
    SystemClock clock;
    MetricsRegistry metrics;
    bus::InProcessBus bus;
    http::Client client;
    http::Router router;
    http::Server server;
    asio::signal_set signals;
    Adapters adapters;
    std::vector<std::unique_ptr<Module>> modules;
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
        for (auto& m : modules) {
            auto r = co_await m->start();
            if (!r) {
                set_status(m->name(), "DOWN");
                co_return fail(r.error().code, "module " + std::string(m->name()) + " failed to start: " + r.error().message);
            }
            set_status(m->name(), "UP");
            log->info("module started name={}", m->name());
        }
        co_return ok();
    }

    asio::awaitable<void> drain_and_stop() {
        auto deadline = std::chrono::steady_clock::now() + cfg.get_duration("server.shutdown-timeout", std::chrono::seconds(10));
        log->info("shutting down in_flight={}", server.in_flight());
        server.begin_drain();
        asio::steady_timer timer(io);
        while (server.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
            timer.expires_after(std::chrono::milliseconds(5));
            co_await timer.async_wait(asio::use_awaitable);
        }
        server.close_all();
        for (auto it = modules.rbegin(); it != modules.rend(); ++it) {
            set_status((*it)->name(), "STOPPING");
            co_await (*it)->stop();
            set_status((*it)->name(), "DOWN");
        }
        boost::system::error_code ignored;
        signals.cancel(ignored);
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
    auto impl = std::make_unique<Impl>(std::move(cfg));
    auto& s = *impl;
    s.server.set_access_log(s.cfg.get_bool("log.access", true));
    auto adapters = make_adapters(s.cfg, s.blocking, s.clock, s.io.get_executor());
    if (!adapters) return fail(adapters.error());
    s.adapters = std::move(*adapters);

    std::vector<std::string> hosted;
    for (const auto& spec : module_list()) {
        if (!options.modules.empty() &&
            std::find(options.modules.begin(), options.modules.end(), spec.name) == options.modules.end()) {
            continue;
        }
        ModuleContext ctx;
        ctx.io = &s.io;
        ctx.blocking = &s.blocking;
        ctx.bus = &s.bus;
        ctx.config = &s.cfg;
        ctx.clock = &s.clock;
        ctx.metrics = &s.metrics;
        ctx.log = make_logger(std::string(spec.name), s.cfg.get_string("log.level", "info"));
        ctx.http_client = &s.client;
        ctx.sql = s.adapters.sql.get();
        ctx.kv = s.adapters.kv.get();
        ctx.events = s.adapters.events.get();
        ctx.usage = s.adapters.usage.get();
        ctx.routes = &s.router;
        ctx.server = &s.server;
        auto m = spec.make(std::move(ctx));
        if (!m) return fail(m.error().code, "module " + std::string(spec.name) + ": " + m.error().message);
        s.modules.push_back(std::move(*m));
        hosted.emplace_back(spec.name);
        s.status.push_back({std::string(spec.name), "STARTING"});
    }
    for (const auto& name : options.modules) {
        if (std::find(hosted.begin(), hosted.end(), name) == hosted.end()) {
            return fail(Errc::invalid_argument, "unknown module '" + name + "'");
        }
    }
    try {
        for (auto& m : s.modules) m->register_routes(s.router);
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
        register_actuator_routes(s.router, s.metrics, std::move(info));
    } catch (const std::exception& e) {
        return fail(Errc::internal, e.what());
    }
    for (auto& m : s.modules) m->register_handlers(s.bus);
    http::serve_routes_over_bus(s.bus, s.router, "kernel");
    if (options.handle_signals) {
        s.signals.add(SIGINT);
        s.signals.add(SIGTERM);
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
