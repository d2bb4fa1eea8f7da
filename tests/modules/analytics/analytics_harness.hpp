#pragma once
/// Test harness of the analytics module: the module built from a ModuleContext (io_context, SQLite
/// in memory behind SqlUsageStore, MemoryEventLog, FakeClock, real config schema), started, with
/// helpers that append event envelopes to the log and call the module's routes directly.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "support/module_config.hpp"
#include "analytics_module.hpp"
#include "lt/adapters/memory_event_log.hpp"
#include "lt/adapters/sql_usage_store.hpp"
#include "lt/adapters/sqlite_database.hpp"
#include "lt/analytics/analytics.hpp"
#include "lt/bus/in_process_bus.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/config.hpp"
#include "lt/core/metrics.hpp"
#include "lt/core/time.hpp"
#include "lt/http/router.hpp"
#include "support/envelopes.hpp"

namespace lt::analytics::test {

namespace asio = boost::asio;
namespace json = boost::json;

inline config::Config load_config(std::vector<std::string> overrides) {
    return lt::test::load_module_config(&describe_config, std::move(overrides));
}

inline bus::Principal principal(std::string id, std::vector<std::string> roles = {"USER"}) {
    return bus::Principal{std::move(id), std::move(roles), "jwt"};
}

using ::lt::test::usage_envelope;

/// A purchase envelope (status PENDING).
inline std::string purchase_envelope(const std::string& event_id, const std::string& event, const std::string& saga,
                                     const std::string& user, std::int64_t tokens,
                                     std::chrono::system_clock::time_point when) {
    return ::lt::test::purchase_envelope(event_id, event, saga, user, tokens, when, "PENDING");
}

struct Reply {
    int status = 0;
    json::value body;
    const json::object& obj() const { return body.as_object(); }
    std::string message() const {
        const auto* v = body.as_object().if_contains("message");
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
    }
};

/// True once `done()` holds, false when `timeout` passed first.
template <class Done>
bool eventually(Done done, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

class Harness {
public:
    /// `wrap`: optionally puts a decorator around the real store (e.g. one that fails on demand).
    explicit Harness(std::vector<std::string> overrides = {},
                     std::function<std::unique_ptr<ports::UsageStore>(ports::UsageStore&)> wrap = {})
        : cfg_(load_config(std::move(overrides))), bus_(io_.get_executor(), make_logger("bus", "off"), nullptr) {
        auto db = adapters::SqliteDatabase::open(":memory:", blocking_);
        REQUIRE_MESSAGE(db, (db ? "" : db.error().message));
        db_ = std::move(*db);
        real_store_ = std::make_unique<adapters::SqlUsageStore>(*db_);
        if (wrap) wrapped_store_ = wrap(*real_store_);
        ModuleContext ctx;
        ctx.io = &io_;
        ctx.blocking = &blocking_;
        ctx.bus = &bus_;
        ctx.config = &cfg_;
        ctx.clock = &clock_;
        ctx.metrics = &metrics_;
        ctx.log = make_logger("analytics", "off");
        ctx.sql = db_.get();
        ctx.events = &log_;
        ctx.usage = wrapped_store_ ? wrapped_store_.get() : real_store_.get();
        ctx.routes = &router_;
        auto m = make_module(ctx);
        REQUIRE_MESSAGE(m, (m ? "" : m.error().message));
        module_ = std::move(*m);
        module_->register_routes(router_);
        module_->register_handlers(bus_);
        auto started = run(module_->start());
        REQUIRE_MESSAGE(started, (started ? "" : started.error().message));
    }

    ~Harness() {
        run_void(module_->stop());
        module_.reset();
        blocking_.stop();
    }

    /// Runs `aw` on the io_context until it completes (other work, like the purge timer, stays queued).
    template <class T>
    T run(asio::awaitable<T> aw) {
        std::optional<T> out;
        std::exception_ptr error;
        bool done = false;
        asio::co_spawn(io_, std::move(aw), [&](std::exception_ptr e, T v) {
            error = e;
            if (!e) out = std::move(v);
            done = true;
        });
        io_.restart();
        while (!done) {
            if (io_.run_one() == 0) io_.restart();
        }
        if (error) std::rethrow_exception(error);
        return std::move(*out);
    }

    void run_void(asio::awaitable<void> aw) {
        bool done = false;
        asio::co_spawn(io_, std::move(aw), [&](std::exception_ptr) { done = true; });
        io_.restart();
        while (!done) {
            if (io_.run_one() == 0) io_.restart();
        }
    }

    /// GET `target` as `who` (no principal when nullopt).
    Reply get(const std::string& target, std::optional<bus::Principal> who) {
        http::Request req;
        req.method = "GET";
        req.target = target;
        auto q = target.find('?');
        req.path = target.substr(0, q);
        if (q != std::string::npos) req.query = target.substr(q + 1);
        req.ctx.request_id = "test";
        req.ctx.principal = std::move(who);
        auto m = router_.match(req.method, req.path);
        REQUIRE_MESSAGE(m.kind == http::MatchKind::found, target);
        req.route = m.route->path;
        req.path_params = m.params;
        auto res = run(m.route->handler(std::move(req)));
        Reply r;
        r.status = res.status;
        boost::system::error_code ec;
        r.body = json::parse(res.body, ec);
        REQUIRE_MESSAGE(!ec, res.body);
        return r;
    }

    /// Appends a message to `topic` (keyed like the outbox: by event id).
    void append(const std::string& topic, const std::string& key, std::string value) {
        REQUIRE(log_.append(topic, key, std::move(value)));
    }

    /// Waits until the consumers have handled `n` events in total (stored, duplicate or malformed).
    void wait_handled(std::uint64_t n) {
        auto* in = ingestor();
        REQUIRE_MESSAGE(eventually([&] { return in->stored() + in->duplicates() + in->malformed() >= n; }),
                        "handled " << (in->stored() + in->duplicates() + in->malformed()) << " of " << n);
    }

    EventIngestor* ingestor() { return static_cast<AnalyticsModule*>(module_.get())->ingestor(); }
    FakeClock& clock() { return clock_; }
    MetricsRegistry& metrics() { return metrics_; }
    adapters::MemoryEventLog& log() { return log_; }

private:
    asio::io_context io_;
    FakeClock clock_;
    BlockingPool blocking_{2};
    config::Config cfg_;
    bus::InProcessBus bus_;
    http::Router router_;
    MetricsRegistry metrics_;
    adapters::MemoryEventLog log_{clock_};
    std::unique_ptr<adapters::SqliteDatabase> db_;
    std::unique_ptr<ports::UsageStore> real_store_;
    std::unique_ptr<ports::UsageStore> wrapped_store_;
    std::unique_ptr<Module> module_;
};

}  // namespace lt::analytics::test
