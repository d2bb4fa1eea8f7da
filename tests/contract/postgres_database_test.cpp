// PostgresDatabase's own cases (the port contract runs in sql_database_contract_test.cpp): broken
// connections, serialization retries, contention and concurrent migrations on a real server
// (LT_TEST_POSTGRES_URL; every case skips with a MESSAGE without it).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "contract/sql_database_contract.hpp"
#include "lt/adapters/postgres_database.hpp"
#include "support/postgres_schema.hpp"

using lt::Errc;
using lt::adapters::PostgresDatabase;
using lt::adapters::PostgresOptions;
using lt::ports::as_double;
using lt::ports::as_int;
using lt::ports::as_text;
using lt::ports::SqlSession;
using lt::ports::SqlValue;
using namespace lt::test;

namespace {

std::unique_ptr<PostgresDatabase> must_open_pg(const std::string& url, std::size_t pool, PostgresOptions opts = {}) {
    auto db = PostgresDatabase::open(url, pool, opts);
    REQUIRE_MESSAGE(db.has_value(), (db ? std::string() : db.error().message));
    return std::move(*db);
}

/// A statement as a transaction body.
auto statement(std::string sql) {
    return [sql = std::move(sql)](SqlSession& s) -> lt::Result<void> {
        auto r = s.execute(sql);
        if (!r) return lt::fail(r.error());
        return lt::ok();
    };
}

/// Connections of the server whose application_name is `app` (seen from `admin`).
std::int64_t backends_of(lt::ports::SqlDatabase& admin, const std::string& app) {
    return scalar(admin, "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1", {SqlValue(app)});
}

/// A private PostgreSQL + Redis pair (scripts/test-servers.sh with its own env file), for cases that
/// stop the server: the shared test server keeps running for the other tests.
class PrivateServers {
public:
    PrivateServers() {
        env_ = (dir_.path() / "servers.env").string();
        started_ = script("start");
        std::ifstream in(env_);
        for (std::string line; std::getline(in, line);) {
            if (line.starts_with("LT_TEST_POSTGRES_URL=")) url_ = line.substr(21);
        }
    }
    ~PrivateServers() { (void)script("stop"); }
    PrivateServers(const PrivateServers&) = delete;
    PrivateServers& operator=(const PrivateServers&) = delete;

    /// Runs `scripts/test-servers.sh <command>` on this pair; true when it exits 0.
    bool script(const std::string& command) {
        const std::string cmd = "LT_TEST_SERVERS_ENV='" + env_ + "' '" + std::string(LT_SOURCE_DIR) +
                                "/scripts/test-servers.sh' " + command + " >/dev/null";
        return std::system(cmd.c_str()) == 0;
    }
    bool started() const { return started_ && !url_.empty(); }
    const std::string& url() const { return url_; }

private:
    TempDir dir_{"pg-outage"};
    std::string env_;
    std::string url_;
    bool started_ = false;
};

}  // namespace

TEST_CASE("a stopped PostgreSQL server gives fast unavailable answers and service resumes by itself") {
    if (!postgres_test_url()) {
        skip_notice();
        return;
    }
    PrivateServers servers;
    REQUIRE(servers.started());
    PostgresOptions opts;
    opts.reconnect_max = std::chrono::milliseconds(500);
    auto db = must_open_pg(servers.url(), 2, opts);
    must_sql(*db, "CREATE TABLE outage (id BIGINT PRIMARY KEY)");
    must_sql(*db, "INSERT INTO outage (id) VALUES (1)");
    REQUIRE(servers.script("pg-stop"));

    // Every answer during the outage is a quick 503-style error, never a hang.
    for (int i = 0; i < 5; ++i) {
        const auto start = std::chrono::steady_clock::now();
        auto r = run_sql(*db, "SELECT COUNT(*) FROM outage");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == Errc::unavailable);
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
    }
    bool down = false;
    for (int i = 0; i < 100 && !down; ++i) {
        down = !db->available();
        if (!down) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(down);

    REQUIRE(servers.script("pg-start"));
    bool back = false;
    for (int i = 0; i < 100 && !back; ++i) {
        back = run_sql(*db, "INSERT INTO outage (id) VALUES (2)").has_value();
        if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(back);
    CHECK(db->available());
    CHECK(scalar(*db, "SELECT COUNT(*) FROM outage") == 2);  // committed data survived the restart
}

TEST_CASE("a PostgreSQL connection killed with pg_terminate_backend is replaced and the next transaction succeeds") {
    PostgresSchema schema;
    if (!schema.enabled()) {
        skip_notice();
        return;
    }
    const std::string app = "lt_kill_" + schema.name();
    auto db = must_open_pg(schema.url("application_name=" + app), 2);
    must_sql(*db, "CREATE TABLE kills (id BIGINT PRIMARY KEY)");
    // Wait until both pool connections exist, then kill them all.
    for (int i = 0; i < 100 && backends_of(schema.admin(), app) < 2; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        auto killed = must_sql(schema.admin(),
                               "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                               {SqlValue(app)});
        CHECK(killed.rows.size() >= 1);
        // The very next transactions succeed: a connection lost before COMMIT is replaced and the
        // body runs again on the new one.
        for (std::int64_t i = 0; i < 5; ++i) {
            const auto id = std::int64_t{round} * 10 + i;
            auto r = run_sql(*db, "INSERT INTO kills (id) VALUES ($1)", {SqlValue(id)});
            REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
        }
    }
    CHECK(scalar(*db, "SELECT COUNT(*) FROM kills") == 15);
    // The idle connection is replaced too, and the database reports itself available again.
    bool back = false;
    for (int i = 0; i < 250 && !back; ++i) {
        back = db->available() && backends_of(schema.admin(), app) == 2;
        if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(back);
}

TEST_CASE("a PostgreSQL serialization failure runs the transaction body again") {
    PostgresSchema schema;
    if (!schema.enabled()) {
        skip_notice();
        return;
    }
    auto db = must_open_pg(schema.url(), 2);
    auto other = must_open_pg(schema.url(), 1);
    must_sql(*db, "CREATE TABLE counters (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)");
    must_sql(*db, "INSERT INTO counters (id, n) VALUES (1, 0)");

    // A real one: a REPEATABLE READ transaction updates a row another transaction changed after its
    // snapshot was taken (SQLSTATE 40001 on the first run only).
    int runs = 0;
    auto r = db->transact_sync([&](SqlSession& s) -> lt::Result<void> {
        ++runs;
        if (auto x = s.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); !x) return lt::fail(x.error());
        auto before = s.execute("SELECT n FROM counters WHERE id = 1");
        if (!before) return lt::fail(before.error());
        if (runs == 1) {
            auto bump = other->transact_sync(statement("UPDATE counters SET n = n + 100 WHERE id = 1"));
            if (!bump) return lt::fail(bump.error());
        }
        auto x = s.execute("UPDATE counters SET n = n + 1 WHERE id = 1");
        if (!x) return lt::fail(x.error());
        return lt::ok();
    });
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
    CHECK(runs == 2);
    CHECK(scalar(*db, "SELECT n FROM counters WHERE id = 1") == 101);

    // A deadlock (40P01) is retried the same way; the failed run left nothing behind.
    int deadlock_runs = 0;
    r = db->transact_sync([&](SqlSession& s) -> lt::Result<void> {
        ++deadlock_runs;
        if (auto x = s.execute("UPDATE counters SET n = n + 1 WHERE id = 1"); !x) return lt::fail(x.error());
        if (deadlock_runs == 1) {
            auto x = s.execute("DO $$ BEGIN RAISE EXCEPTION 'forced $1' USING ERRCODE = 'deadlock_detected'; END $$");
            if (!x) return lt::fail(x.error());
        }
        return lt::ok();
    });
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
    CHECK(deadlock_runs == 2);
    CHECK(scalar(*db, "SELECT n FROM counters WHERE id = 1") == 102);

    // Retries are bounded: a body that always fails that way gives up as unavailable.
    PostgresOptions opts;
    opts.max_attempts = 3;
    auto bounded = must_open_pg(schema.url(), 1, opts);
    int always_runs = 0;
    r = bounded->transact_sync([&](SqlSession& s) -> lt::Result<void> {
        ++always_runs;
        auto x = s.execute("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = 'serialization_failure'; END $$");
        if (!x) return lt::fail(x.error());
        return lt::ok();
    });
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::unavailable);
    CHECK(always_runs == 3);
}

TEST_CASE("sixteen threads on eight PostgreSQL connections incrementing one row with SELECT FOR UPDATE lose no update") {
    PostgresSchema schema;
    if (!schema.enabled()) {
        skip_notice();
        return;
    }
    auto db = must_open_pg(schema.url(), 8);
    must_sql(*db, "CREATE TABLE counters (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)");
    must_sql(*db, "INSERT INTO counters (id, n) VALUES (1, 0)");
    constexpr int kThreads = 16;
    constexpr int kPerThread = 150;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kPerThread; ++i) {
                auto r = db->transact_sync([](SqlSession& s) -> lt::Result<void> {
                    // Read, compute in C++, write back: correct only because the row lock is held.
                    auto row = s.execute("SELECT n FROM counters WHERE id = $1 FOR UPDATE", {SqlValue(std::int64_t{1})});
                    if (!row) return lt::fail(row.error());
                    const auto n = as_int(row->rows.at(0).at(0)).value_or(-1);
                    auto w = s.execute("UPDATE counters SET n = $1 WHERE id = $2",
                                       {SqlValue(n + 1), SqlValue(std::int64_t{1})});
                    if (!w) return lt::fail(w.error());
                    return lt::ok();
                });
                if (!r) ++failures;
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(failures.load() == 0);
    CHECK(scalar(*db, "SELECT n FROM counters WHERE id = 1") == kThreads * kPerThread);
}

TEST_CASE("two PostgresDatabase objects migrating every module at once apply each version once") {
    for (int loop = 0; loop < 3; ++loop) {
        CAPTURE(loop);
        PostgresSchema schema;
        if (!schema.enabled()) {
            skip_notice();
            return;
        }
        auto first = must_open_pg(schema.url(), 2);
        auto second = must_open_pg(schema.url(), 2);
        const std::vector<std::string> modules = {"auth", "token", "analytics"};
        std::int64_t versions = 0;
        for (const auto& m : modules) versions += static_cast<std::int64_t>(lt::ports::embedded_migrations(m, "postgres").size());
        REQUIRE(versions >= 4);
        std::atomic<int> applied{0};
        std::atomic<int> errors{0};
        std::vector<std::thread> threads;
        for (auto* db : {first.get(), second.get(), first.get(), second.get()}) {
            threads.emplace_back([db, &modules, &applied, &errors] {
                for (const auto& m : modules) {
                    const auto migrations = lt::ports::embedded_migrations(m, "postgres");
                    auto r = lt::ports::run_migrations(*db, m, migrations);
                    if (r) applied += *r; else ++errors;
                }
            });
        }
        for (auto& t : threads) t.join();
        CHECK(errors.load() == 0);
        CHECK(applied.load() == versions);
        CHECK(scalar(*first, "SELECT COUNT(*) FROM lt_schema_migrations") == versions);
        CHECK(scalar(*first, "SELECT COUNT(*) FROM auth_roles") == 2);  // the seed rows ran once
    }
}

TEST_CASE("PostgreSQL columns convert by type and placeholders are only counted outside quotes and comments") {
    PostgresSchema schema;
    if (!schema.enabled()) {
        skip_notice();
        return;
    }
    auto db = must_open_pg(schema.url(), 1);
    auto r = must_sql(*db,
                      "SELECT 1::int2 AS a, 2::int4 AS b, true AS c, false AS d, 1.5::float4 AS e, 2.25::numeric AS f, "
                      "'2026-01-01'::date AS g, $1::bigint * 2 AS h, '$2' AS i, \"$3\".x AS j "
                      "FROM (SELECT 7 AS x) AS \"$3\" -- $4 is a comment\n/* and $5 too */",
                      {SqlValue(std::int64_t{21})});
    REQUIRE(r.rows.size() == 1);
    const auto& row = r.rows[0];
    CHECK(as_int(row[0]) == 1);
    CHECK(as_int(row[1]) == 2);
    CHECK(as_int(row[2]) == 1);
    CHECK(as_int(row[3]) == 0);
    CHECK(as_double(row[4]) == 1.5);
    CHECK(as_double(row[5]) == 2.25);
    CHECK(as_text(row[6]) == "2026-01-01");
    CHECK(as_int(row[7]) == 42);
    CHECK(as_text(row[8]) == "$2");
    CHECK(as_int(row[9]) == 7);
    // The same SQL text with a NULL instead of an integer is prepared with the server's type.
    auto n = must_sql(*db, "SELECT COALESCE($1, 'fallback')", {SqlValue(nullptr)});
    CHECK(as_text(n.rows.at(0).at(0)) == "fallback");
}

TEST_CASE("a PostgreSQL statement past statement_timeout is unavailable and the connection stays usable") {
    PostgresSchema schema;
    if (!schema.enabled()) {
        skip_notice();
        return;
    }
    PostgresOptions opts;
    opts.statement_timeout = std::chrono::milliseconds(200);
    auto db = must_open_pg(schema.url(), 1, opts);
    const auto start = std::chrono::steady_clock::now();
    auto slow = run_sql(*db, "SELECT pg_sleep(5)");
    REQUIRE_FALSE(slow.has_value());
    CHECK(slow.error().code == Errc::unavailable);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
    CHECK(scalar(*db, "SELECT 1") == 1);
}

TEST_CASE("an unreachable PostgreSQL server fails open fast as unavailable and a bad URL as invalid") {
    const auto start = std::chrono::steady_clock::now();
    auto refused = PostgresDatabase::open("postgresql://nobody@127.0.0.1:1/none", 2);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == Errc::unavailable);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
    auto bad = PostgresDatabase::open("postgresql://host/db?no_such_option=1", 1);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == Errc::invalid_argument);
    auto empty_pool = PostgresDatabase::open("postgresql://127.0.0.1:1/none", 0);
    REQUIRE_FALSE(empty_pool.has_value());
    CHECK(empty_pool.error().code == Errc::invalid_argument);
}

TEST_CASE("transact_sync inside a PostgreSQL transaction body of the same database is refused") {
    PostgresSchema schema;
    if (!schema.enabled()) {
        skip_notice();
        return;
    }
    auto db = must_open_pg(schema.url(), 1);
    lt::Result<void> inner = lt::ok();
    auto r = db->transact_sync([&](SqlSession&) -> lt::Result<void> {
        inner = db->transact_sync(statement("SELECT 1"));
        return lt::ok();
    });
    CHECK(r.has_value());
    REQUIRE_FALSE(inner.has_value());
    CHECK(inner.error().code == Errc::internal);
}

// A measurement, not a test: run with
//   build/tests/contract_sql_test -tc="PostgreSQL transaction throughput*" --no-skip
TEST_CASE("PostgreSQL transaction throughput with independent rows" * doctest::skip()) {
    PostgresSchema schema;
    if (!schema.enabled()) {
        skip_notice();
        return;
    }
    for (std::size_t pool : {2u, 4u, 8u}) {
        auto db = must_open_pg(schema.url(), pool);
        must_sql(*db, "DROP TABLE IF EXISTS tput");
        must_sql(*db, "CREATE TABLE tput (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)");
        constexpr int kThreads = 16;
        constexpr int kPerThread = 200;
        std::atomic<int> failures{0};
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < kPerThread; ++i) {
                    const std::int64_t id = std::int64_t{t} * kPerThread + i;
                    auto r = db->transact_sync([id](SqlSession& s) -> lt::Result<void> {
                        auto a = s.execute("INSERT INTO tput (id, n) VALUES ($1, 0)", {SqlValue(id)});
                        if (!a) return lt::fail(a.error());
                        auto b = s.execute("UPDATE tput SET n = n + 1 WHERE id = $1", {SqlValue(id)});
                        if (!b) return lt::fail(b.error());
                        return lt::ok();
                    });
                    if (!r) ++failures;
                }
            });
        }
        for (auto& t : threads) t.join();
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        CHECK(failures.load() == 0);
        std::printf("pool %zu: %d transactions (INSERT + UPDATE) in %.2f s = %.0f/s\n", pool, kThreads * kPerThread,
                    secs, kThreads * kPerThread / secs);
    }
}
