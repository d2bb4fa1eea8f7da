#pragma once
/// Test harness of the auth module: the module built from a ModuleContext (io_context, in-process bus,
/// SQLite, FakeClock, real config schema), started, with helpers that call its routes directly and
/// record the events it delivers.

#include "support/module_config.hpp"
#include "support/temp_dir.hpp"
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "lt/adapters/memory_key_value_store.hpp"
#include "lt/adapters/sqlite_database.hpp"
#include "lt/auth/auth.hpp"
#include "lt/bus/in_process_bus.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/config.hpp"
#include "lt/core/jwt.hpp"
#include "lt/core/metrics.hpp"
#include "lt/http/router.hpp"

namespace lt::auth::test {

namespace asio = boost::asio;
namespace json = boost::json;

using TempDir = lt::test::TempDir;

inline config::Config load_config(std::vector<std::string> overrides) {
    return lt::test::load_module_config(&describe_config, std::move(overrides));
}

/// A principal as the gateway would set it.
inline bus::Principal user(std::string id, std::vector<std::string> roles = {"USER"}) {
    return bus::Principal{std::move(id), std::move(roles), "jwt"};
}

/// A parsed response.
struct Reply {
    int status = 0;
    json::value body;
    http::Response raw;
    std::string str(std::string_view key) const {
        const auto* o = body.if_object();
        const auto* v = o ? o->if_contains(key) : nullptr;
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
    }
    std::string message() const { return str("message"); }
};

struct Event {
    std::string topic;
    json::value body;
};

class Harness {
public:
    /// `db_file`: a SQLite file (restart tests); default a private in-memory database.
    explicit Harness(std::vector<std::string> overrides = {}, std::optional<std::filesystem::path> db_file = {},
                     FakeClock* shared_clock = nullptr)
        : clock_(shared_clock ? shared_clock : &own_clock_),
          cfg_(load_config(std::move(overrides))),
          bus_(io_.get_executor(), make_logger("bus", "off"), nullptr) {
        auto db = adapters::SqliteDatabase::open(db_file ? *db_file : std::filesystem::path(":memory:"), blocking_);
        REQUIRE_MESSAGE(db, (db ? "" : db.error().message));
        db_ = std::move(*db);
        ModuleContext ctx;
        ctx.io = &io_;
        ctx.blocking = &blocking_;
        ctx.bus = &bus_;
        ctx.config = &cfg_;
        ctx.clock = clock_;
        ctx.metrics = &metrics_;
        ctx.log = make_logger("auth", "off");
        ctx.sql = db_.get();
        kv_ = std::make_unique<adapters::MemoryKeyValueStore>(*clock_);
        ctx.kv = kv_.get();  // the failed-login limiter's windows
        ctx.routes = &router_;
        auto m = make_module(ctx);
        REQUIRE_MESSAGE(m, (m ? "" : m.error().message));
        module_ = std::move(*m);
        module_->register_routes(router_);
        module_->register_handlers(bus_);
        bus_.set_codec_check(true);
        for (auto topic : {kApiKeyRevoked.name, kTokenRevoked.name, kKeysRotated.name, kUserRolesChanged.name}) {
            bus_.subscribe_named(std::string(topic), "test", [this](bus::Message msg) { return record(this, std::move(msg)); });
        }
        auto started = run(module_->start());
        REQUIRE_MESSAGE(started, (started ? "" : started.error().message));
    }

    ~Harness() {
        module_.reset();
        blocking_.stop();
    }

    /// Runs `aw` on the io_context until it completes.
    template <class T>
    T run(asio::awaitable<T> aw) {
        auto guard = asio::make_work_guard(io_);
        std::optional<T> out;
        std::exception_ptr error;
        asio::co_spawn(io_, std::move(aw), [&](std::exception_ptr e, T v) {
            error = e;
            if (!e) out = std::move(v);
            guard.reset();
        });
        io_.restart();
        io_.run();
        if (error) std::rethrow_exception(error);
        REQUIRE(out.has_value());
        return std::move(*out);
    }

    /// Calls the route matching `method` and `target` with `principal` as the verified identity.
    Reply call(std::string method, std::string target, std::string body = {},
               std::optional<bus::Principal> principal = std::nullopt,
               std::map<std::string, std::string> headers = {}, std::string remote_ip = "127.0.0.1") {
        http::Request req;
        req.remote_ip = std::move(remote_ip);
        req.method = method;
        req.target = target;
        auto q = target.find('?');
        req.path = target.substr(0, q);
        if (q != std::string::npos) req.query = target.substr(q + 1);
        req.body = std::move(body);
        for (auto& [k, v] : headers) req.headers.push_back({k, v});
        req.ctx.request_id = "test";
        req.ctx.principal = std::move(principal);
        auto m = router_.match(req.method, req.path);
        REQUIRE_MESSAGE(m.kind == http::MatchKind::found, method << " " << target);
        req.route = m.route->path;
        req.path_params = m.params;
        auto res = run(m.route->handler(std::move(req)));
        Reply r;
        r.status = res.status;
        if (!res.body.empty()) {
            boost::system::error_code ec;
            r.body = json::parse(res.body, ec);
            REQUIRE_MESSAGE(!ec, res.body);
        }
        r.raw = std::move(res);
        return r;
    }

    Reply post(std::string path, const json::value& body, std::optional<bus::Principal> p = std::nullopt) {
        return call("POST", std::move(path), json::serialize(body), std::move(p));
    }

    /// Sends a bus command to the module as another process would (JSON); the reply's wire form.
    Result<json::value> command(std::string_view name, json::value body) {
        auto r = run(bus_.call_named(std::string(name), std::move(body), bus::Context{}));
        if (!r) return fail(r.error());
        return r->json();
    }

    /// Registers a user over HTTP; returns {userId, token}.
    std::pair<std::string, std::string> register_user(const std::string& name, const std::string& password = "pw-secret-1") {
        auto r = post("/api/v1/auth/register",
                      json::object{{"username", name}, {"email", name + "@example.com"}, {"password", password}});
        REQUIRE_MESSAGE(r.status == 201, json::serialize(r.body));
        return {r.str("userId"), r.str("token")};
    }

    /// The keys currently published by the module, as a verifier gets them over the bus.
    jwt::KeySet published_keys() {
        auto r = command(kJwks.name, json::object{});
        REQUIRE(r);
        auto set = jwt::from_jwks(json::object{{"keys", r->as_object().at("keys")}});
        REQUIRE(set);
        return *set;
    }

    std::vector<Event> events_of(std::string_view topic) const {
        std::vector<Event> out;
        for (const auto& e : events_) {
            if (e.topic == topic) out.push_back(e);
        }
        return out;
    }

    FakeClock& clock() { return *clock_; }
    Module& module() { return *module_; }
    MetricsRegistry& metrics() { return metrics_; }
    ports::SqlDatabase& db() { return *db_; }
    BlockingPool& blocking() { return blocking_; }

private:
    static asio::awaitable<Result<void>> record(Harness* self, bus::Message msg) {
        self->events_.push_back(Event{msg.name, msg.body.json()});  // the wire form
        co_return ok();
    }

    asio::io_context io_;
    FakeClock own_clock_;
    FakeClock* clock_;
    BlockingPool blocking_{2};
    config::Config cfg_;
    bus::InProcessBus bus_;
    http::Router router_;
    MetricsRegistry metrics_;
    std::unique_ptr<adapters::SqliteDatabase> db_;
    std::unique_ptr<adapters::MemoryKeyValueStore> kv_;
    std::unique_ptr<Module> module_;
    std::vector<Event> events_;
};

}  // namespace lt::auth::test
