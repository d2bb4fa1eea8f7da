// CONTRACT 30 with real processes: three `leaky-tokens serve` on ONE data directory (one SQLite file
// for the token module, one for analytics) with token.quota.reservation=shared. 32 HTTP clients spread
// over the three consume for ONE user and provider. Each process has its own memory key-value store
// (its own rate-limit bucket: set large here) and its own memory event log; analytics stores events
// once by eventId in the shared usage store, so every process's relay feeds the same totals.
//
// LT_HAMMER_LOOPS=N repeats each scenario N times.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using lt::test::Account;
using lt::test::http_call;
using lt::test::ServerProcess;

constexpr int kClients = 32;

/// token.quota.reservation of the processes: `shared`; LT_MULTIPROCESS_RESERVATION=process shows what
/// the shared mode prevents (each process admits against its own copy: the quota is over-admitted).
std::string reservation_mode() {
    const char* env = std::getenv("LT_MULTIPROCESS_RESERVATION");
    return env && *env ? env : "shared";
}

std::vector<std::string> shared_sets() {
    return lt::test::with_admin({"token.quota.reservation=" + reservation_mode(), "token.bucket.capacity=1000000000",
                                 "token.bucket.leak-rate-per-second=1000000", "token.quota.reservation-timeout=3s",
                                 "token.outbox.lease=2s", "log.level=warn"});
}

std::string consume_body(const std::string& user, std::int64_t tokens) {
    return boost::json::serialize(
        boost::json::object{{"userId", user}, {"provider", "openai"}, {"tokens", tokens}, {"prompt", "hi"}});
}

std::int64_t remaining(std::uint16_t port, const Account& who) {
    auto r = http_call(port, "GET", "/api/v1/tokens/quota?userId=" + who.id + "&provider=openai", "", who.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return boost::json::parse(r.body).as_object().at("remainingTokens").as_int64();
}

/// Allowed tokens analytics counted for `who` (the shared usage store, read through `port`).
std::int64_t analytics_tokens(std::uint16_t port, const Account& who) {
    auto r = http_call(port, "GET", "/api/v1/analytics/users/" + who.id + "?windowMinutes=60", "", who.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return boost::json::parse(r.body).as_object().at("totalTokens").as_int64();
}

/// Polls analytics until it reports `want` (the relays and consumers are asynchronous) or 20 s passed.
std::int64_t wait_analytics(std::uint16_t port, const Account& who, std::int64_t want) {
    std::int64_t seen = -1;
    for (int i = 0; i < 200; ++i) {
        seen = analytics_tokens(port, who);
        if (seen == want) return seen;
        std::this_thread::sleep_for(100ms);
    }
    return seen;
}

struct Tally {
    std::atomic<std::int64_t> ok_tokens{0};       ///< answered 200
    std::atomic<std::int64_t> unknown_tokens{0};  ///< no answer (the process died): maybe committed
    std::atomic<std::int64_t> refused{0};         ///< 402
    std::atomic<std::int64_t> unexpected{0};
};

/// Client `t` sends `per_client` requests of 1..3 tokens to ports[t % n] (to the next live port after
/// a connection failure) until `stop` is set or its requests are done.
void client(int t, std::vector<std::uint16_t> ports, const Account& u, int per_client, Tally* tally,
            const std::atomic<bool>* stop) {
    std::size_t target = static_cast<std::size_t>(t) % ports.size();
    std::unique_ptr<lt::test::TestConnection> c;
    for (int i = 0; i < per_client && !stop->load(); ++i) {
        const std::int64_t n = 1 + (t + i) % 3;
        try {
            if (!c) c = std::make_unique<lt::test::TestConnection>(ports[target]);
            auto r = c->request("POST", "/api/v1/tokens/consume", consume_body(u.id, n), u.auth());
            if (r.status == 200) tally->ok_tokens += n;
            else if (r.status == 402) tally->refused++;
            else tally->unexpected++;
            if (!r.keep_alive) c.reset();
        } catch (const std::exception&) {
            tally->unknown_tokens += n;  // sent, no answer: the process may have committed it
            c.reset();
            target = (target + 1) % ports.size();
        }
    }
}

int loops() {
    const char* env = std::getenv("LT_HAMMER_LOOPS");
    return env ? std::max(1, std::atoi(env)) : 1;
}

}  // namespace

TEST_CASE("three serve processes on one database never admit more than the quota and agree on the balance") {
    for (int loop = 0; loop < loops(); ++loop) {
        CAPTURE(loop);
        lt::test::TempDir dir{"multiprocess"};
        std::vector<std::unique_ptr<ServerProcess>> procs;
        for (int p = 0; p < 3; ++p) {
            procs.push_back(std::make_unique<ServerProcess>(dir.path(), shared_sets(), "server" + std::to_string(p) + ".log"));
        }
        std::vector<std::uint16_t> ports;
        for (auto& p : procs) ports.push_back(p->port());
        auto root = lt::test::admin(ports[0]);
        auto u = lt::test::signup(ports[1], "hammer");
        constexpr std::int64_t kQuota = 2000;
        lt::test::allocate(ports[2], root, "userId", u.id, kQuota);

        Tally tally;
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (int t = 0; t < kClients; ++t) threads.emplace_back(client, t, ports, std::cref(u), 70, &tally, &stop);
        for (auto& th : threads) th.join();

        const std::int64_t admitted = tally.ok_tokens;
        CHECK(tally.unexpected == 0);
        CHECK(tally.unknown_tokens == 0);
        CHECK(tally.refused > 0);  // 32 × 70 × 2 tokens wanted: the quota ran dry
        CHECK(admitted <= kQuota);  // zero over-admission across processes
        for (auto port : ports) CHECK(remaining(port, u) == kQuota - admitted);  // one truth
        CHECK(wait_analytics(ports[0], u, admitted) == admitted);  // every 200 counted once
        MESSAGE("loop " << loop << ": admitted " << admitted << " of " << kQuota << ", refused " << tally.refused.load());
    }
}

TEST_CASE("a kill -9 of one of three serve processes mid-load loses nothing that was answered 200") {
    for (int loop = 0; loop < loops(); ++loop) {
        CAPTURE(loop);
        lt::test::TempDir dir{"multiprocess-kill"};
        std::vector<std::unique_ptr<ServerProcess>> procs;
        for (int p = 0; p < 3; ++p) {
            procs.push_back(std::make_unique<ServerProcess>(dir.path(), shared_sets(), "server" + std::to_string(p) + ".log"));
        }
        std::vector<std::uint16_t> ports;
        for (auto& p : procs) ports.push_back(p->port());
        auto root = lt::test::admin(ports[0]);
        auto u = lt::test::signup(ports[0], "killer");
        constexpr std::int64_t kQuota = 100'000;  // the USER tier's cap (quota-max-tokens)
        lt::test::allocate(ports[0], root, "userId", u.id, kQuota);

        Tally tally;
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (int t = 0; t < kClients; ++t) threads.emplace_back(client, t, ports, std::cref(u), 1'000'000, &tally, &stop);
        std::this_thread::sleep_for(700ms);
        procs[2]->kill_hard();  // mid-load: requests in flight on it get no answer
        std::this_thread::sleep_for(700ms);
        stop = true;
        for (auto& th : threads) th.join();
        CHECK(tally.unexpected == 0);
        CHECK(tally.ok_tokens > 0);

        // The killed process comes back on the same data (a supervisor would restart it): with the
        // memory event log, what it had published lived in its memory, so it re-publishes the kept
        // rows (analytics deduplicates by eventId).
        procs[2] = std::make_unique<ServerProcess>(dir.path(), shared_sets(), "server2-restarted.log");
        // Reservations the dead process never settled are refunded after the reservation timeout.
        std::this_thread::sleep_for(4s);
        const std::int64_t debited = kQuota - remaining(ports[0], u);
        CHECK(remaining(ports[1], u) == kQuota - debited);
        CHECK(debited >= tally.ok_tokens);                         // every 200 is in the balance
        CHECK(debited <= tally.ok_tokens + tally.unknown_tokens);  // nothing debited that was not asked
        CHECK(wait_analytics(ports[1], u, debited) == debited);  // each committed debit has its event, counted once
        MESSAGE("loop " << loop << ": answered 200 " << tally.ok_tokens.load() << " tokens, unanswered "
                        << tally.unknown_tokens.load() << ", debited " << debited);
    }
}
