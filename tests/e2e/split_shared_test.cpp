// Split mode on the production profile (issue 10, part 7(c)): TWO token processes behind ONE gateway,
//   gateway+registry+config+auth+analytics | token+providers | token+providers,
// sharing cluster.secret, the registry of the first, and the run's PostgreSQL (one schema: the same
// storage.data-dir), Redis (one rate-limit bucket per key) and Kafka (mock cluster). Every client
// request goes through the gateway, which round-robins over the two token processes.
//
// Runs only under `scripts/run-with-env.sh --production` (LT_TEST_EXTRA_SET selects PostgreSQL and
// Redis); otherwise every case skips with a MESSAGE. LT_HAMMER_LOOPS=N repeats the load cases N times.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_http.hpp"

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using lt::test::Account;
using lt::test::http_call;
using lt::test::HttpResult;
using lt::test::ServerProcess;
using Clock = std::chrono::steady_clock;

constexpr const char* kSecret = "split-shared-test-secret-0123456789";
constexpr int kClients = 32;

/// The value of `key` in the run's LT_TEST_EXTRA_SET ("" when absent).
std::string run_setting(const std::string& key) {
    for (const auto& o : lt::test::env_extra_overrides()) {
        if (o.rfind(key + "=", 0) == 0) return o.substr(key.size() + 1);
    }
    return {};
}

/// True on the production run; otherwise says why the case is skipped.
bool production_run() {
    if (run_setting("storage.sql.driver") == "postgres" && run_setting("storage.kv.driver") == "redis") return true;
    MESSAGE("SKIPPED: needs the production run (scripts/run-with-env.sh --production): PostgreSQL + Redis shared "
            "by the gateway and two token processes");
    return false;
}

int loops() {
    const char* env = std::getenv("LT_HAMMER_LOOPS");
    return env ? std::max(1, std::atoi(env)) : 1;
}

/// Polls `f` every 50 ms until it returns true or `limit` passed.
bool eventually(const std::function<bool()>& f, std::chrono::milliseconds limit) {
    const auto end = Clock::now() + limit;
    for (;;) {
        try {
            if (f()) return true;
        } catch (const std::exception&) {
        }
        if (Clock::now() >= end) return false;
        std::this_thread::sleep_for(50ms);
    }
}

/// Three processes on ONE data directory (one PostgreSQL schema, one set of Kafka topics), distinct
/// log files; `bucket` sets the token module's bucket (capacity, leak per second).
struct SharedCluster {
    lt::test::TempDir dir{"split-shared"};
    std::uint16_t gateway_port = lt::test::free_port();
    std::vector<std::unique_ptr<ServerProcess>> procs;  ///< [0] gateway, [1] and [2] token

    SharedCluster(const std::string& capacity, const std::string& leak) {
        const std::string registry = "http://127.0.0.1:" + std::to_string(gateway_port);
        std::vector<std::string> common{"registry.url=" + registry,
                                        "registry.fetch-interval=200ms",
                                        "registry.heartbeat-interval=1s",
                                        std::string("cluster.secret=") + kSecret,
                                        "gateway.rate-limit.enabled=false",
                                        "storage.events.session-timeout=3s",
                                        "token.quota.reservation=shared",
                                        "token.quota.reservation-timeout=3s",
                                        "token.outbox.lease=2s",
                                        "token.bucket.capacity=" + capacity,
                                        "token.bucket.leak-rate-per-second=" + leak};
        start("gateway.log", gateway_port, "gateway,registry,config,auth,analytics", lt::test::with_admin(common));
        start("token-a.log", lt::test::free_port(), "token,providers", common);
        start("token-b.log", lt::test::free_port(), "token,providers", common);
        // Both token instances found by the gateway before any load.
        auto root = lt::test::admin(gateway_port);
        REQUIRE_MESSAGE(eventually(
                            [&] {
                                auto r = http_call(gateway_port, "GET", "/eureka/apps/TOKEN", "",
                                                   {{"Accept", "application/json"}, {"Authorization", "Bearer " + root.token}});
                                return r.status == 200 && r.body.find(std::to_string(port(1))) != std::string::npos &&
                                       r.body.find(std::to_string(port(2))) != std::string::npos;
                            },
                            10s),
                        "the registry did not list both token processes");
        REQUIRE(eventually([&] { return http_call(gateway_port, "GET", "/api/v1/tokens/status").status == 200; }, 10s));
        std::this_thread::sleep_for(500ms);  // the gateway's table (registry.fetch-interval) has both
    }
    ~SharedCluster() {
        while (!procs.empty()) procs.pop_back();
    }
    void start(const std::string& log, std::uint16_t p, const std::string& modules, std::vector<std::string> sets) {
        procs.push_back(std::make_unique<ServerProcess>(dir.path(), p,
                                                        lt::test::ServerSpec{std::move(sets), modules, {}, "info", log}));
    }
    std::uint16_t port(std::size_t i) const { return procs.at(i)->port(); }
};

std::string consume_body(const std::string& user, std::int64_t tokens) {
    return json::serialize(json::object{{"userId", user}, {"provider", "openai"}, {"tokens", tokens}, {"prompt", "hi"}});
}

/// Sum of token_consume_total over every label set in the /actuator/prometheus of `port`.
double consume_requests(std::uint16_t port) {
    auto r = http_call(port, "GET", "/actuator/prometheus");
    REQUIRE(r.status == 200);
    std::istringstream in(r.body);
    std::string line;
    double sum = 0;
    while (std::getline(in, line)) {
        if (line.rfind("token_consume_total{", 0) != 0) continue;
        sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return sum;
}

std::int64_t remaining(std::uint16_t port, const Account& who) {
    auto r = http_call(port, "GET", "/api/v1/tokens/quota?userId=" + who.id + "&provider=openai", "", who.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return json::parse(r.body).as_object().at("remainingTokens").as_int64();
}

std::int64_t analytics_tokens(std::uint16_t port, const Account& who) {
    auto r = http_call(port, "GET", "/api/v1/analytics/users/" + who.id + "?windowMinutes=60", "", who.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return json::parse(r.body).as_object().at("totalTokens").as_int64();
}

/// Polls analytics until it reports `want` or 40 s passed (Kafka: a rebalance after a kill).
std::int64_t wait_analytics(std::uint16_t port, const Account& who, std::int64_t want) {
    std::int64_t seen = -1;
    for (int i = 0; i < 400; ++i) {
        seen = analytics_tokens(port, who);
        if (seen == want) return seen;
        std::this_thread::sleep_for(100ms);
    }
    return seen;
}

std::int64_t ns_since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

struct Tally {
    Clock::time_point t0 = Clock::now();
    std::atomic<std::int64_t> ok_tokens{0};       ///< answered 200
    std::atomic<std::int64_t> unknown_tokens{0};  ///< 5xx or no answer: maybe committed by the dead process
    std::atomic<std::int64_t> refused{0};         ///< 402 or 429
    std::atomic<std::int64_t> errors{0};          ///< 5xx or no answer
    std::atomic<std::int64_t> other{0};           ///< any other status
    std::atomic<std::int64_t> first_error_ns{-1};
    std::atomic<std::int64_t> last_error_ns{-1};
    std::atomic<std::int64_t> last_ok_ns{-1};
    std::atomic<int> last_error_status{0};
};

void note_error(Tally* t, std::int64_t n, int status) {
    const auto at = ns_since(t->t0);
    t->unknown_tokens += n;
    t->errors++;
    t->last_error_status = status;
    std::int64_t none = -1;
    t->first_error_ns.compare_exchange_strong(none, at);
    auto prev = t->last_error_ns.load();
    while (prev < at && !t->last_error_ns.compare_exchange_weak(prev, at)) {
    }
}

/// Client `t` sends up to `per_client` consumes of 1..3 tokens through the gateway until `stop`.
void client(int t, std::uint16_t gateway, const Account& u, int per_client, Tally* tally, const std::atomic<bool>* stop) {
    std::unique_ptr<lt::test::TestConnection> c;
    for (int i = 0; i < per_client && !stop->load(); ++i) {
        const std::int64_t n = 1 + (t + i) % 3;
        try {
            if (!c) c = std::make_unique<lt::test::TestConnection>(gateway);
            auto r = c->request("POST", "/api/v1/tokens/consume", consume_body(u.id, n), u.auth());
            if (r.status == 200) {
                tally->ok_tokens += n;
                tally->last_ok_ns = std::max(tally->last_ok_ns.load(), ns_since(tally->t0));
            } else if (r.status == 402 || r.status == 429) {
                tally->refused++;
            } else if (r.status >= 500) {
                note_error(tally, n, r.status);
            } else {
                tally->other++;
            }
            if (!r.keep_alive) c.reset();
        } catch (const std::exception&) {
            note_error(tally, n, 0);
            c.reset();
        }
    }
}

}  // namespace

TEST_CASE("two token processes behind one gateway on PostgreSQL and Redis answer as one process and never over-admit") {
    if (!production_run()) return;
    for (int loop = 0; loop < loops(); ++loop) {
        CAPTURE(loop);
        constexpr std::int64_t kBucket = 600;
        SharedCluster c(std::to_string(kBucket), "0.001");
        const auto gw = c.gateway_port;
        auto root = lt::test::admin(gw);

        // (1) The scenarios of one process: consume with X-RateLimit headers, a purchase saga, analytics.
        auto u = lt::test::signup(gw, "shared-scenario");
        lt::test::allocate(gw, root, "userId", u.id, 100);
        auto first = http_call(gw, "POST", "/api/v1/tokens/consume", consume_body(u.id, 40), u.auth());
        REQUIRE_MESSAGE(first.status == 200, first.body);
        CHECK_FALSE(first.header("x-ratelimit-limit").empty());
        CHECK_FALSE(first.header("x-ratelimit-remaining").empty());
        auto second = http_call(gw, "POST", "/api/v1/tokens/consume", consume_body(u.id, 40), u.auth());
        REQUIRE_MESSAGE(second.status == 200, second.body);
        auto refused = http_call(gw, "POST", "/api/v1/tokens/consume", consume_body(u.id, 40), u.auth());
        CHECK_MESSAGE(refused.status == 402, refused.body);
        CHECK(remaining(gw, u) == 20);
        auto headers = u.auth();
        headers["Idempotency-Key"] = "shared-order-1";
        auto purchase = http_call(gw, "POST", "/api/v1/tokens/purchase",
                                  json::serialize(json::object{{"userId", u.id}, {"provider", "openai"}, {"tokens", 500}}),
                                  headers);
        REQUIRE_MESSAGE(purchase.status == 202, purchase.body);
        const std::string saga(json::parse(purchase.body).as_object().at("sagaId").as_string());
        CHECK(eventually(
            [&] {
                // Either token process answers: the saga lives in the shared database.
                auto r = http_call(gw, "GET", "/api/v1/tokens/purchase/" + saga, "", u.auth());
                return r.status == 200 && json::parse(r.body).as_object().at("status") == "COMPLETED";
            },
            15s));
        CHECK(wait_analytics(gw, u, 80) == 80);

        // (2) One key hammered by 32 clients through the gateway: a quota smaller than the bucket (the
        // shared PostgreSQL ledger binds), then a quota larger than the bucket (the shared Redis bucket binds).
        const double served_a = consume_requests(c.port(1));
        const double served_b = consume_requests(c.port(2));
        struct Round {
            const char* name;
            std::int64_t quota;
            std::int64_t limit;
        };
        for (const Round round : {Round{"quota-bound", 300, 300}, Round{"bucket-bound", 5000, kBucket}}) {
            const std::string round_name = round.name;
            CAPTURE(round_name);
            auto h = lt::test::signup(gw, std::string("shared-") + round.name);
            lt::test::allocate(gw, root, "userId", h.id, round.quota);
            Tally tally;
            std::atomic<bool> stop{false};
            std::vector<std::thread> threads;
            for (int t = 0; t < kClients; ++t) threads.emplace_back(client, t, gw, std::cref(h), 20, &tally, &stop);
            for (auto& th : threads) th.join();
            const std::int64_t admitted = tally.ok_tokens;
            CHECK(tally.errors == 0);
            CHECK(tally.other == 0);
            CHECK(tally.refused > 0);
            CHECK(admitted <= round.limit);      // zero over-admission across the two token processes
            CHECK(admitted >= round.limit - 3);  // and the binding limit was reached (1..3 tokens a request)
            CHECK(remaining(gw, h) == round.quota - admitted);  // balance = funded - admitted, exactly
            CHECK(wait_analytics(gw, h, admitted) == admitted);
            MESSAGE("loop " << loop << " " << round_name << ": admitted " << admitted << " of " << round.limit
                            << ", refused " << tally.refused.load());
        }
        // The gateway spread the load over both token processes.
        const double by_a = consume_requests(c.port(1)) - served_a;
        const double by_b = consume_requests(c.port(2)) - served_b;
        CHECK(by_a > 0);
        CHECK(by_b > 0);
        MESSAGE("consume requests served: token-a " << by_a << ", token-b " << by_b);
    }
}

TEST_CASE("a kill -9 of one of two token processes behind the gateway fails over and loses nothing answered 200") {
    if (!production_run()) return;
    for (int loop = 0; loop < loops(); ++loop) {
        CAPTURE(loop);
        SharedCluster c("1000000000", "1000000");
        const auto gw = c.gateway_port;
        auto root = lt::test::admin(gw);
        auto u = lt::test::signup(gw, "shared-killer");
        constexpr std::int64_t kQuota = 100'000;  // the USER tier's cap
        lt::test::allocate(gw, root, "userId", u.id, kQuota);

        Tally tally;
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (int t = 0; t < kClients; ++t) threads.emplace_back(client, t, gw, std::cref(u), 1'000'000, &tally, &stop);
        std::this_thread::sleep_for(1s);
        const std::int64_t errors_before = tally.errors;
        const std::int64_t kill_ns = ns_since(tally.t0);
        c.procs[2]->kill_hard();  // mid-load: requests in flight on it get no answer from it
        std::this_thread::sleep_for(6s);
        stop = true;
        for (auto& th : threads) th.join();
        const std::int64_t end_ns = ns_since(tally.t0);

        CHECK(errors_before == 0);
        CHECK(tally.other == 0);
        CHECK(tally.ok_tokens > 0);
        // Failover: any error window starts at the kill and ends within 3 s, and 200s follow it.
        if (tally.errors > 0) {
            const double window_s = static_cast<double>(tally.last_error_ns - kill_ns) / 1e9;
            MESSAGE("errors after the kill: " << tally.errors.load() << " (last status " << tally.last_error_status.load()
                                              << ") within " << window_s << " s of it");
            CHECK(window_s < 3.0);
        }
        CHECK(tally.last_ok_ns > end_ns - 1'000'000'000);  // still answering 200 in the last second

        // Reservations the dead process never settled are refunded after the reservation timeout; its
        // outbox rows are taken over by the survivor after the lease.
        std::this_thread::sleep_for(4s);
        const std::int64_t debited = kQuota - remaining(gw, u);
        CHECK(debited >= tally.ok_tokens);                         // every 200 is in the balance
        CHECK(debited <= tally.ok_tokens + tally.unknown_tokens);  // nothing debited that was not asked
        CHECK(wait_analytics(gw, u, debited) == debited);          // each debit counted once
        MESSAGE("loop " << loop << ": answered 200 " << tally.ok_tokens.load() << " tokens, unknown "
                        << tally.unknown_tokens.load() << " (" << tally.errors.load() << " requests), refused "
                        << tally.refused.load() << ", debited " << debited);
    }
}
