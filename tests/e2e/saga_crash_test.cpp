// Crash recovery of the purchase saga with the real binary: the server is killed with SIGKILL right
// after a chosen step committed (fault injection), restarted on the same data directory, and the
// client retries with its idempotency key. Every saga must end terminal, the quota must be credited
// exactly once (or not at all), and the payment of a failed saga must be released.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>

#include "lt/adapters/sqlite_database.hpp"
#include "lt/core/blocking_pool.hpp"
#include "support/accounts.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_http.hpp"

namespace {

using namespace std::chrono_literals;
using lt::test::http_call;

using lt::test::free_port;

/// `leaky-tokens serve` (all modules) in a child process.
class Server : public lt::test::ServerProcess {
public:
    Server(const std::filesystem::path& data_dir, std::uint16_t port, std::vector<std::string> sets)
        : ServerProcess(data_dir, port, lt::test::ServerSpec{std::move(sets), "", {}, "warn"}) {}
};

struct Outcome {
    std::string saga_id;
    std::string status;
};

/// Retries the purchase with the same key until the saga is terminal (the recovery job finishes it).
Outcome retry_until_terminal(std::uint16_t port, const lt::test::Account& who, const std::string& body,
                             const std::string& key) {
    auto headers = who.auth();
    headers["Idempotency-Key"] = key;
    Outcome out;
    for (int i = 0; i < 200; ++i) {
        auto r = http_call(port, "POST", "/api/v1/tokens/purchase", body, headers);
        REQUIRE_MESSAGE(r.status == 202, r.body);
        auto o = boost::json::parse(r.body).as_object();
        out = {std::string(o.at("sagaId").as_string()), std::string(o.at("status").as_string())};
        if (out.status == "COMPLETED" || out.status == "FAILED") return out;
        std::this_thread::sleep_for(50ms);
    }
    return out;
}

/// Reads one text column of one row from the server's SQLite file (the server is stopped).
std::string read_text(const std::filesystem::path& data_dir, const std::string& sql, const std::string& param) {
    lt::BlockingPool pool(1);
    auto db = lt::adapters::SqliteDatabase::open(data_dir / "leaky-tokens.db", pool);
    REQUIRE_MESSAGE(db, (db ? "" : db.error().message));
    std::string out = "<none>";
    REQUIRE((*db)->transact_sync([&](lt::ports::SqlSession& s) -> lt::Result<void> {
        auto r = s.execute(sql, {lt::ports::SqlValue(param)});
        if (!r) return lt::fail(r.error());
        if (!r->rows.empty()) out = lt::ports::as_text(r->rows[0][0]).value_or("<null>");
        return lt::ok();
    }));
    return out;
}

void crash_and_recover(const std::string& step, const std::string& expected_status) {
    CAPTURE(step);
    lt::test::TempDir dir{"saga-crash"};
    const std::string key = "order-" + step;
    std::string user_id;
    std::string body;
    {
        Server server(dir.path(), free_port(), {"token.saga.fault-injection.crash-after=" + step});
        auto u = lt::test::signup(server.port(), "crash");
        user_id = u.id;
        body = R"({"userId":")" + u.id + R"(","provider":"openai","tokens":4321})";
        auto headers = u.auth();
        headers["Idempotency-Key"] = key;
        bool answered = false;
        try {
            auto r = http_call(server.port(), "POST", "/api/v1/tokens/purchase", body, headers);
            answered = r.status != 0;
        } catch (const std::exception&) {
        }
        CHECK_FALSE(answered);  // the process died before answering
        CHECK(server.wait_killed() == SIGKILL);
    }
    // Restart on the same data: every unfinished saga is stale at once, the job runs every 100 ms.
    Server server(dir.path(), free_port(),
                  {"token.saga.recovery.stale-minutes=0", "token.saga.recovery.fixed-delay-ms=100"});
    auto login = http_call(server.port(), "POST", "/api/v1/auth/login", R"({"username":"crash","password":"pw-crash-123"})");
    REQUIRE_MESSAGE(login.status == 200, login.body);
    lt::test::Account u{user_id, std::string(boost::json::parse(login.body).as_object().at("token").as_string())};

    auto outcome = retry_until_terminal(server.port(), u, body, key);
    CHECK(outcome.status == expected_status);
    auto q = http_call(server.port(), "GET", "/api/v1/tokens/quota?userId=" + user_id + "&provider=openai", "", u.auth());
    if (expected_status == "COMPLETED") {
        REQUIRE_MESSAGE(q.status == 200, q.body);
        CHECK(boost::json::parse(q.body).as_object().at("purchasedTokens").as_int64() == 4321);  // exactly once
    } else {
        CHECK(q.status == 404);  // never credited
    }
    // Wait until the compensation (or capture) is visible in the payment ledger, then stop cleanly.
    const std::string want_payment = expected_status == "COMPLETED" ? "CAPTURED" : "RELEASED";
    bool settled = false;
    for (int i = 0; i < 100 && !settled; ++i) {
        auto text = http_call(server.port(), "GET", "/actuator/prometheus").body;
        settled = expected_status == "COMPLETED" ||
                  text.find("\ntoken_purchase_saga_compensated_total 1") != std::string::npos;
        if (!settled) std::this_thread::sleep_for(50ms);
    }
    CHECK(settled);
    server.stop();
    CHECK(read_text(dir.path(), "SELECT status FROM token_payments WHERE saga_id = $1", outcome.saga_id) == want_payment);
    CHECK(read_text(dir.path(), "SELECT status FROM token_purchase_saga WHERE id = $1", outcome.saga_id) == expected_status);
    CHECK(read_text(dir.path(), "SELECT CAST(COUNT(*) AS TEXT) FROM token_purchase_saga WHERE user_id = $1", user_id) == "1");
}

}  // namespace

TEST_CASE("kill -9 right after STARTED: the restarted server fails the saga and releases the payment") {
    crash_and_recover("STARTED", "FAILED");
}

TEST_CASE("kill -9 right after PAYMENT_RESERVED: the restarted server completes the saga, credited once") {
    crash_and_recover("PAYMENT_RESERVED", "COMPLETED");
}

TEST_CASE("kill -9 right after TOKENS_ALLOCATED: the restarted server completes the saga, credited once") {
    crash_and_recover("TOKENS_ALLOCATED", "COMPLETED");
}
