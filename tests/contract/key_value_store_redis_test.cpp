// The KeyValueStore contract on a real Redis (LT_TEST_REDIS_URL; each harness uses its own key prefix
// so runs sharing a server never meet), and what only the Redis adapter does: script reload after
// SCRIPT FLUSH, exact 64-bit increments, real expiry, AUTH and SELECT, TLS with certificate checks, and
// failure handling against throwaway redis-server processes the tests start, pause and kill.

#include "contract/key_value_store_contract.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "lt/adapters/redis_key_value_store.hpp"
#include "redis_url.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace asio = boost::asio;
using lt::adapters::RedisKeyValueStore;
using lt::adapters::RedisOptions;
using lt::test::RedisClient;
using lt::test::RedisServer;
using SteadyClock = std::chrono::steady_clock;

/// An io_context on its own thread for the store's connections.
struct IoThread {
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    std::thread thread{[this] { io.run(); }};
    ~IoThread() {
        work.reset();
        io.stop();
        thread.join();
    }
};

/// Waits up to `limit` for `store.available()` to equal `wanted`.
bool wait_available(const RedisKeyValueStore& store, bool wanted, std::chrono::milliseconds limit) {
    const auto deadline = SteadyClock::now() + limit;
    while (SteadyClock::now() < deadline) {
        if (store.available() == wanted) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return store.available() == wanted;
}

/// A RedisKeyValueStore on `url`; fails the case when it does not open.
std::unique_ptr<RedisKeyValueStore> open_store(IoThread& io, const std::string& url, RedisOptions options = {}) {
    auto store = RedisKeyValueStore::open(io.io.get_executor(), url, std::move(options));
    REQUIRE_MESSAGE(store.has_value(), (store ? std::string() : store.error().message));
    return std::move(*store);
}

/// The contract's harness: the server of LT_TEST_REDIS_URL, keys under a prefix of their own.
struct RedisKeyValueStoreHarness {
    static constexpr bool kControllableTime = false;

    static std::unique_ptr<RedisKeyValueStoreHarness> make() {
        auto url = lt::test::redis_url_from_env();
        if (!url) {
            MESSAGE("skipped: LT_TEST_REDIS_URL is not set (start a redis-server and export it)");
            return nullptr;
        }
        auto h = std::make_unique<RedisKeyValueStoreHarness>();
        h->store_ = open_store(h->io_, *url);
        REQUIRE_MESSAGE(wait_available(*h->store_, true, std::chrono::seconds(5)), "redis at LT_TEST_REDIS_URL not reachable");
        return h;
    }
    lt::ports::KeyValueStore& store() { return *store_; }
    std::string key(std::string_view name) { return prefix_ + std::string(name); }

    IoThread io_;
    std::unique_ptr<RedisKeyValueStore> store_;
    std::string prefix_ = lt::test::unique_redis_prefix("kv");
};

/// The shared server, or null after a visible skip message.
std::unique_ptr<RedisKeyValueStoreHarness> shared_server() { return make_kv_harness<RedisKeyValueStoreHarness>(); }

/// A throwaway server, or null after a visible skip message.
std::unique_ptr<RedisServer> own_server(std::vector<std::string> extra = {}, std::uint16_t port = 0) {
    if (!lt::test::redis_server_installed()) {
        MESSAGE("skipped: redis-server is not installed");
        return nullptr;
    }
    auto server = RedisServer::start(port, std::move(extra));
    REQUIRE_MESSAGE(server != nullptr, "redis-server did not start");
    return server;
}

std::chrono::milliseconds since(SteadyClock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0);
}

}  // namespace

TYPE_TO_STRING_AS("redis", RedisKeyValueStoreHarness);
LT_KEY_VALUE_STORE_CONTRACT(RedisKeyValueStoreHarness);

TEST_CASE("redis store reloads its scripts after SCRIPT FLUSH") {
    auto h = shared_server();
    if (!h) return;
    auto client = RedisClient::connect(*lt::test::redis_url_from_env());
    REQUIRE(client != nullptr);
    const std::string key = h->key("flushed");
    CHECK(add_capped(h->store(), key, 2, 10) == Reply{1, 2, 1, 0});
    REQUIRE(client->command({"SCRIPT", "FLUSH"}) == "OK");
    // EVALSHA now answers NOSCRIPT: the adapter falls back to EVAL, which caches the script again.
    CHECK(add_capped(h->store(), key, 3, 10) == Reply{1, 5, 2, 0});
    CHECK(add_capped(h->store(), key, 6, 10) == Reply{0, 5, 2, 1});
    const auto stats = client->command({"INFO", "commandstats"});
    CHECK(stats.find("cmdstat_eval:") != std::string::npos);
}

TEST_CASE("redis store stores script fields as hash fields f0 to f3 with the ttl of the call") {
    auto h = shared_server();
    if (!h) return;
    auto client = RedisClient::connect(*lt::test::redis_url_from_env());
    REQUIRE(client != nullptr);
    const std::string key = h->key("fields");
    add_capped(h->store(), key, 4, 10, std::chrono::milliseconds(50000));
    CHECK(client->command({"HMGET", key, "f0", "f1", "f2", "f3"}) == "4 1 0 0");
    const auto ttl = std::stoll(client->command({"PTTL", key}));
    CHECK(ttl > 40000);
    CHECK(ttl <= 50000);
}

TEST_CASE("redis store increment is exact across the whole 64-bit range and refuses an overflow") {
    auto h = shared_server();
    if (!h) return;
    auto& store = h->store();
    const std::string key = h->key("big");
    REQUIRE(run_sync(store.set(key, "9223372036854775806", milliseconds(0))).has_value());
    CHECK(run_sync(store.increment(key, 1, milliseconds(0))).value() == 9223372036854775807);
    auto over = run_sync(store.increment(key, 1, milliseconds(0)));
    REQUIRE_FALSE(over.has_value());
    CHECK(over.error().code == lt::Errc::invalid_argument);
    CHECK(run_sync(store.increment(key, -7, milliseconds(0))).value() == 9223372036854775800);
    const std::string fields = h->key("fields");
    add_capped(store, fields, 1, 10);
    auto wrong = run_sync(store.increment(fields, 1, milliseconds(0)));
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error().code == lt::Errc::conflict);
}

TEST_CASE("redis store expires values in real time and increment sets the ttl only on creation") {
    auto h = shared_server();
    if (!h) return;
    auto client = RedisClient::connect(*lt::test::redis_url_from_env());
    REQUIRE(client != nullptr);
    auto& store = h->store();
    const std::string brief = h->key("brief");
    REQUIRE(run_sync(store.set(brief, "v", milliseconds(100))).has_value());
    const std::string counter = h->key("counter");
    CHECK(run_sync(store.increment(counter, 1, milliseconds(60000))).value() == 1);
    CHECK(run_sync(store.increment(counter, 1, milliseconds(120000))).value() == 2);
    const auto ttl = std::stoll(client->command({"PTTL", counter}));
    CHECK(ttl > 50000);
    CHECK(ttl <= 60000);
    std::this_thread::sleep_for(milliseconds(250));
    CHECK(run_sync(store.get(brief)).value() == std::nullopt);
    const std::string forever = h->key("forever");
    CHECK(run_sync(store.increment(forever, 5, milliseconds(0))).value() == 5);
    CHECK(client->command({"PTTL", forever}) == "-1");
}

TEST_CASE("redis store refuses a script call without a positive ttl or without Lua") {
    auto h = shared_server();
    if (!h) return;
    const auto script = capped_counter_script();
    const std::int64_t args[] = {1, 10};
    auto no_ttl = run_sync(h->store().atomic_update(h->key("k"), script, args, milliseconds(0)));
    REQUIRE_FALSE(no_ttl.has_value());
    CHECK(no_ttl.error().code == lt::Errc::invalid_argument);
    lt::ports::AtomicScript native_only;
    native_only.name = "native-only";
    native_only.native = script.native;
    auto no_lua = run_sync(h->store().atomic_update(h->key("k"), native_only, args, milliseconds(1000)));
    REQUIRE_FALSE(no_lua.has_value());
    CHECK(no_lua.error().code == lt::Errc::invalid_argument);
}

TEST_CASE("redis store answers unavailable at once while redis is down and recovers by itself when it returns") {
    auto server = own_server();
    if (!server) return;
    IoThread io;
    RedisOptions options;
    options.timeout = milliseconds(300);
    options.pool_size = 2;
    auto store = open_store(io, server->url(), options);
    REQUIRE(wait_available(*store, true, std::chrono::seconds(5)));
    REQUIRE(run_sync(store->set("k", "before", milliseconds(0))).has_value());

    server->kill();
    // The first call may be the one that finds the connection gone; it still ends within the timeout.
    const auto t0 = SteadyClock::now();
    auto lost = run_sync(store->get("k"));
    CHECK(since(t0) < milliseconds(300 + 700));
    REQUIRE_FALSE(lost.has_value());
    CHECK(lost.error().code == lt::Errc::unavailable);
    REQUIRE(wait_available(*store, false, std::chrono::seconds(2)));
    // Known down: every call fails at once, not after the timeout.
    for (int i = 0; i < 20; ++i) {
        const auto t1 = SteadyClock::now();
        auto down = run_sync(store->increment("n", 1, milliseconds(0)));
        CHECK(since(t1) < milliseconds(100));
        REQUIRE_FALSE(down.has_value());
        CHECK(down.error().code == lt::Errc::unavailable);
    }
    const auto script = capped_counter_script();
    const std::int64_t args[] = {1, 10};
    auto script_down = run_sync(store->atomic_update("s", script, args, milliseconds(1000)));
    REQUIRE_FALSE(script_down.has_value());
    CHECK(script_down.error().code == lt::Errc::unavailable);

    REQUIRE(server->restart());
    // Back within the backoff cap (1 s) plus a connect; a fresh Redis knows no script (NOSCRIPT path).
    CHECK(wait_available(*store, true, std::chrono::seconds(5)));
    CHECK(run_sync(store->get("k")).value() == std::nullopt);  // the new server started empty
    CHECK(run_sync(store->atomic_update("s", script, args, milliseconds(1000))).value() == Reply{1, 1, 1, 0});
}

TEST_CASE("redis store answers unavailable within its timeout when redis stops answering and reconnects after") {
    auto server = own_server();
    if (!server) return;
    IoThread io;
    RedisOptions options;
    options.timeout = milliseconds(300);
    options.pool_size = 1;
    auto store = open_store(io, server->url(), options);
    REQUIRE(wait_available(*store, true, std::chrono::seconds(5)));
    REQUIRE(run_sync(store->set("k", "v", milliseconds(0))).has_value());

    server->pause();  // the socket stays open, nothing answers
    const auto t0 = SteadyClock::now();
    auto hung = run_sync(store->get("k"));
    const auto waited = since(t0);
    CHECK(waited >= milliseconds(250));
    CHECK(waited < milliseconds(300 + 700));
    REQUIRE_FALSE(hung.has_value());
    CHECK(hung.error().code == lt::Errc::unavailable);

    server->resume();
    // The timed-out connection was dropped and a new one made; the value is still there.
    const auto deadline = SteadyClock::now() + std::chrono::seconds(5);
    lt::Result<std::optional<std::string>> again = lt::fail(lt::Errc::unavailable, "not tried");
    while (SteadyClock::now() < deadline) {
        again = run_sync(store->get("k"));
        if (again) break;
        std::this_thread::sleep_for(milliseconds(20));
    }
    REQUIRE(again.has_value());
    CHECK(*again == std::optional<std::string>("v"));
}

TEST_CASE("redis store pipelines many concurrent calls over a small pool") {
    auto h = shared_server();
    if (!h) return;
    auto& store = h->store();
    constexpr int kThreads = 8;
    constexpr int kEach = 300;
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                std::string name = "p";
                name += std::to_string(t);
                name += '-';
                name += std::to_string(i);
                const std::string key = h->key(name);
                const std::string value = std::to_string(t * 100000 + i);
                if (!run_sync(store.set(key, value, milliseconds(60000)))) ++wrong;
                auto read = run_sync(store.get(key));
                if (!read || *read != std::optional<std::string>(value)) ++wrong;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    CHECK(wrong.load() == 0);
}

TEST_CASE("redis store authenticates and selects the database of its url") {
    auto server = own_server({"--requirepass", "s3cret-pass"});
    if (!server) return;
    IoThread io;
    const std::string url = "redis://:s3cret-pass@127.0.0.1:" + std::to_string(server->port()) + "/3";
    auto store = open_store(io, url);
    REQUIRE(wait_available(*store, true, std::chrono::seconds(5)));
    REQUIRE(run_sync(store->set("where", "db3", milliseconds(0))).has_value());
    auto client = RedisClient::connect(url);
    REQUIRE(client != nullptr);
    CHECK(client->command({"GET", "where"}) == "db3");
    CHECK(client->command({"SELECT", "0"}) == "OK");
    CHECK(client->command({"GET", "where"}) == "(nil)");

    RedisOptions quick;
    quick.timeout = milliseconds(300);
    auto wrong = open_store(io, "redis://default:wrong-pass@127.0.0.1:" + std::to_string(server->port()), quick);
    CHECK_FALSE(wait_available(*wrong, true, milliseconds(500)));
    auto refused = run_sync(wrong->get("where"));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == lt::Errc::unavailable);
    CHECK(refused.error().message.find("wrong-pass") == std::string::npos);
}

TEST_CASE("redis store speaks TLS and verifies the certificate and the host name") {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
        MESSAGE("skipped: openssl is not installed");
        return;
    }
    lt::test::TempDir dir{"redis-tls"};
    const auto p = [&](const char* name) { return (dir.path() / name).string(); };
    // A private CA and a server certificate for the name "localhost" only.
    const std::string script = "cd '" + dir.path().string() + "' && " +
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=lt-test-ca -keyout ca.key -out ca.crt && "
        "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr && "
        "printf 'subjectAltName=DNS:localhost\\n' > san.ext && "
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext "
        "-out server.crt";
    REQUIRE(std::system(("(" + script + ") >/dev/null 2>&1").c_str()) == 0);
    const std::uint16_t port = lt::test::free_port();
    auto server = own_server({"--port", "0", "--tls-port", std::to_string(port), "--tls-cert-file", p("server.crt"),
                              "--tls-key-file", p("server.key"), "--tls-ca-cert-file", p("ca.crt"),
                              "--tls-auth-clients", "no"},
                             port);  // "--port 0" disables the plain port; the TLS port is probed
    if (!server) return;
    IoThread io;
    RedisOptions options;
    options.tls_ca_file = p("ca.crt");
    options.timeout = milliseconds(1000);
    auto store = open_store(io, "rediss://localhost:" + std::to_string(port), options);
    REQUIRE(wait_available(*store, true, std::chrono::seconds(5)));
    REQUIRE(run_sync(store->set("secure", "yes", milliseconds(0))).has_value());
    CHECK(run_sync(store->get("secure")).value() == std::optional<std::string>("yes"));
    CHECK(add_capped(*store, "tls-bucket", 3, 10) == Reply{1, 3, 1, 0});

    // The certificate does not name 127.0.0.1: refused.
    auto wrong_name = open_store(io, "rediss://127.0.0.1:" + std::to_string(port), options);
    // Without the private CA the chain does not verify against the system store: refused.
    RedisOptions system_only;
    system_only.timeout = milliseconds(1000);
    auto untrusted = open_store(io, "rediss://localhost:" + std::to_string(port), system_only);
    std::this_thread::sleep_for(milliseconds(500));
    CHECK_FALSE(wrong_name->available());
    CHECK_FALSE(untrusted->available());
    auto refused = run_sync(untrusted->get("secure"));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == lt::Errc::unavailable);
}

TEST_CASE("redis urls are parsed with credentials, port, database and TLS") {
    using lt::adapters::redis::parse_redis_url;
    auto plain = parse_redis_url("redis://cache.internal:6380/2");
    REQUIRE(plain.has_value());
    CHECK_FALSE(plain->tls);
    CHECK(plain->host == "cache.internal");
    CHECK(plain->port == 6380);
    CHECK(plain->db == 2);
    CHECK(plain->password.empty());
    auto full = parse_redis_url("rediss://app:p%40ss@[::1]/0");
    REQUIRE(full.has_value());
    CHECK(full->tls);
    CHECK(full->host == "::1");
    CHECK(full->port == 6379);
    CHECK(full->user == "app");
    CHECK(full->password == "p@ss");
    CHECK(full->address() == "[::1]:6379");
    auto password_only = parse_redis_url("redis://:secret@localhost");
    REQUIRE(password_only.has_value());
    CHECK(password_only->user.empty());
    CHECK(password_only->password == "secret");
    for (const char* bad : {"http://localhost", "redis://", "redis://host:0", "redis://host:99999", "redis://host/x",
                            "redis://host/-1", "redis://u:%zz@host"}) {
        CAPTURE(bad);
        auto result = parse_redis_url(bad);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().code == lt::Errc::invalid_argument);
    }
    IoThread io;
    auto refused = RedisKeyValueStore::open(io.io.get_executor(), "redis://:topsecret@host:0", {});
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message.find("topsecret") == std::string::npos);
}
