// SqlDatabase port contract: every case runs against every backend of SqlContractBackends (see
// sql_database_contract.hpp). SQL here is portable between SQLite and PostgreSQL.

#include <atomic>
#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>

#include "contract/sql_database_contract.hpp"

using lt::Errc;
using lt::ports::as_double;
using lt::ports::as_int;
using lt::ports::as_text;
using lt::ports::Migration;
using lt::ports::SqlDatabase;
using lt::ports::SqlSession;
using lt::ports::SqlValue;
using namespace lt::test;

namespace {

/// "v<id>" (built by appending: g++ 12 warns falsely on `"v" + std::to_string(id)`, PR105651).
std::string label(std::int64_t id) {
    std::string out = "v";
    out += std::to_string(id);
    return out;
}

constexpr std::string_view kValuesTable =
    "CREATE TABLE vals (id BIGINT PRIMARY KEY, i BIGINT, d DOUBLE PRECISION, s TEXT, n TEXT)";
constexpr std::string_view kCounterTable = "CREATE TABLE counters (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)";
constexpr std::string_view kSeenTable = "CREATE TABLE seen (n BIGINT PRIMARY KEY)";

/// One increment: the counter's new value must be unique, which only holds when transactions
/// never interleave their read and write.
lt::Result<void> increment(SqlSession& s) {
    auto r = s.execute("UPDATE counters SET n = n + 1 WHERE id = $1 RETURNING n", {SqlValue(std::int64_t{1})});
    if (!r) return lt::fail(r.error());
    if (r->rows.size() != 1) return lt::fail(Errc::internal, "counter row missing");
    auto seen = s.execute("INSERT INTO seen (n) VALUES ($1)", {r->rows[0][0]});
    if (!seen) return lt::fail(seen.error());
    return lt::ok();
}

void prepare_counter(SqlDatabase& db) {
    must_sql(db, kCounterTable);
    must_sql(db, kSeenTable);
    must_sql(db, "INSERT INTO counters (id, n) VALUES ($1, $2)", {SqlValue(std::int64_t{1}), SqlValue(std::int64_t{0})});
}

/// Each of `threads` threads runs `per_thread` increments with transact_sync; returns the failures.
int hammer_sync(std::vector<SqlDatabase*> handles, int threads, int per_thread) {
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        SqlDatabase* db = handles[static_cast<std::size_t>(t) % handles.size()];
        workers.emplace_back([db, per_thread, &failures] {
            for (int i = 0; i < per_thread; ++i) {
                if (!db->transact_sync(increment)) ++failures;
            }
        });
    }
    for (auto& w : workers) w.join();
    return failures.load();
}

boost::asio::awaitable<void> increment_many(SqlDatabase* db, int n, std::atomic<int>* failures) {
    for (int i = 0; i < n; ++i) {
        auto r = co_await db->transact(increment);
        if (!r) ++*failures;
    }
}

std::vector<Migration> sample_migrations() {
    return {
        Migration{1, "widgets", "CREATE TABLE widgets (id BIGINT PRIMARY KEY, name TEXT NOT NULL);"},
        Migration{2, "widget_seed",
                  "INSERT INTO widgets (id, name) VALUES (1, 'one');\nINSERT INTO widgets (id, name) VALUES (2, 'two');"},
    };
}

}  // namespace

TEST_CASE_TEMPLATE_DEFINE("dialect names a migrations folder", B, dialect_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    CHECK((db->dialect() == "sqlite" || db->dialect() == "postgres"));
}
TEST_CASE_TEMPLATE_APPLY(dialect_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("every value type and NULL round-trip through parameters", B, values_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    must_sql(*db, kValuesTable);
    const std::int64_t big = std::numeric_limits<std::int64_t>::max();
    const std::string text = "it's \"quoted\" — ünïcødé; DROP TABLE vals; --";
    auto ins = must_sql(*db, "INSERT INTO vals (id, i, d, s, n) VALUES ($1, $2, $3, $4, $5)",
                        {SqlValue(std::int64_t{1}), SqlValue(big), SqlValue(-3.25), SqlValue(text), SqlValue(nullptr)});
    CHECK(ins.affected == 1);
    must_sql(*db, "INSERT INTO vals (id, i, d, s, n) VALUES ($1, $2, $3, $4, $5)",
             {SqlValue(std::int64_t{2}), SqlValue(std::numeric_limits<std::int64_t>::min()), SqlValue(0.0),
              SqlValue(std::string()), SqlValue(std::string("x"))});

    auto r = must_sql(*db, "SELECT id, i, d, s, n FROM vals WHERE id = $1", {SqlValue(std::int64_t{1})});
    REQUIRE(r.columns == std::vector<std::string>{"id", "i", "d", "s", "n"});
    REQUIRE(r.rows.size() == 1);
    CHECK(as_int(r.rows[0][0]) == 1);
    CHECK(as_int(r.rows[0][1]) == big);
    CHECK(as_double(r.rows[0][2]) == -3.25);
    CHECK(as_text(r.rows[0][3]) == text);
    CHECK(std::holds_alternative<std::nullptr_t>(r.rows[0][4]));
    CHECK_FALSE(as_text(r.rows[0][4]).has_value());

    auto r2 = must_sql(*db, "SELECT i, s, n FROM vals WHERE id = $1", {SqlValue(std::int64_t{2})});
    REQUIRE(r2.rows.size() == 1);
    CHECK(as_int(r2.rows[0][0]) == std::numeric_limits<std::int64_t>::min());
    CHECK(as_text(r2.rows[0][1]) == "");  // empty text is not NULL
    CHECK(as_text(r2.rows[0][2]) == "x");

    auto none = must_sql(*db, "SELECT id FROM vals WHERE n IS NULL AND id = $1", {SqlValue(std::int64_t{2})});
    CHECK(none.rows.empty());
    CHECK(none.columns == std::vector<std::string>{"id"});
}
TEST_CASE_TEMPLATE_APPLY(values_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("a placeholder may repeat and is not replaced inside string literals", B, placeholder_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    must_sql(*db, kValuesTable);
    must_sql(*db, "INSERT INTO vals (id, i, s, n) VALUES ($2, $1, '$1 is literal', $3)",
             {SqlValue(std::int64_t{7}), SqlValue(std::int64_t{3}), SqlValue(std::string("param"))});
    must_sql(*db, "INSERT INTO vals (id, i, s) VALUES ($1, $1, 'other')", {SqlValue(std::int64_t{8})});
    auto r = must_sql(*db, "SELECT id, s, n FROM vals WHERE i = $1 OR id = $1 ORDER BY id", {SqlValue(std::int64_t{7})});
    REQUIRE(r.rows.size() == 1);
    CHECK(as_int(r.rows[0][0]) == 3);
    CHECK(as_text(r.rows[0][1]) == "$1 is literal");
    CHECK(as_text(r.rows[0][2]) == "param");
    CHECK(scalar(*db, "SELECT COUNT(*) FROM vals WHERE id = $1 AND i = $1", {SqlValue(std::int64_t{8})}) == 1);
}
TEST_CASE_TEMPLATE_APPLY(placeholder_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("a statement given too few or too many parameters is an invalid argument", B, arity_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    must_sql(*db, kValuesTable);
    auto few = run_sql(*db, "SELECT id FROM vals WHERE id = $1 AND i = $2", {SqlValue(std::int64_t{1})});
    REQUIRE_FALSE(few.has_value());
    CHECK(few.error().code == Errc::invalid_argument);
    auto many = run_sql(*db, "SELECT id FROM vals WHERE id = $1", {SqlValue(std::int64_t{1}), SqlValue(std::int64_t{2})});
    REQUIRE_FALSE(many.has_value());
    CHECK(many.error().code == Errc::invalid_argument);
}
TEST_CASE_TEMPLATE_APPLY(arity_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("affected counts the rows a statement changed", B, affected_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    must_sql(*db, kValuesTable);
    for (std::int64_t id = 1; id <= 3; ++id) {
        CHECK(must_sql(*db, "INSERT INTO vals (id, i) VALUES ($1, 0)", {SqlValue(id)}).affected == 1);
    }
    CHECK(must_sql(*db, "UPDATE vals SET i = i + 1").affected == 3);
    CHECK(must_sql(*db, "SELECT id FROM vals").affected == 0);
    CHECK(must_sql(*db, "DELETE FROM vals WHERE id > $1", {SqlValue(std::int64_t{99})}).affected == 0);
    CHECK(must_sql(*db, "DELETE FROM vals WHERE id >= $1", {SqlValue(std::int64_t{2})}).affected == 2);
}
TEST_CASE_TEMPLATE_APPLY(affected_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("a pipeline runs its statements in order, answers each, and stops at the first failure", B,
                          pipeline_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    must_sql(*db, kValuesTable);
    const SqlValue one(std::int64_t{1}), two(std::int64_t{2}), three(std::int64_t{3});
    const SqlValue first[] = {one};
    const SqlValue second[] = {two};
    const SqlValue third[] = {three};
    const SqlValue none[] = {two};
    auto r = db->transact_sync([&](SqlSession& s) -> lt::Result<void> {
        const lt::ports::SqlStatement statements[] = {
            {"INSERT INTO vals (id, i) VALUES ($1, 10)", first},
            {"INSERT INTO vals (id, i) VALUES ($1, 20)", second},
            {"SELECT id, i FROM vals WHERE id <= $1 ORDER BY id", third},
            {"UPDATE vals SET i = i + 1 WHERE id >= $1", none},
        };
        auto results = s.execute_pipeline(statements);
        REQUIRE(results.size() == 4);
        for (const auto& one_result : results) REQUIRE_MESSAGE(one_result, (one_result ? "" : one_result.error().message));
        CHECK(results[0]->affected == 1);
        REQUIRE(results[2]->rows.size() == 2);  // sees the two inserts before it
        CHECK(as_int(results[2]->rows[1][1]) == 20);
        CHECK(results[3]->affected == 1);
        return lt::ok();
    });
    REQUIRE(r.has_value());
    CHECK(scalar(*db, "SELECT i FROM vals WHERE id = 2") == 21);

    // A failing statement: it reports its error, the ones after it are not run, the transaction fails.
    auto failed = db->transact_sync([&](SqlSession& s) -> lt::Result<void> {
        const lt::ports::SqlStatement statements[] = {
            {"UPDATE vals SET i = 0 WHERE id = $1", first},
            {"INSERT INTO vals (id, i) VALUES ($1, 0)", second},  // duplicate key
            {"UPDATE vals SET i = 0 WHERE id = $1", second},
        };
        auto results = s.execute_pipeline(statements);
        REQUIRE(results.size() == 3);
        CHECK(results[0]);
        REQUIRE_FALSE(results[1]);
        CHECK(results[1].error().code == Errc::conflict);
        REQUIRE_FALSE(results[2]);
        return lt::fail(results[1].error());
    });
    CHECK_FALSE(failed.has_value());
    CHECK(scalar(*db, "SELECT i FROM vals WHERE id = 1") == 10);  // rolled back
    CHECK(scalar(*db, "SELECT i FROM vals WHERE id = 2") == 21);
    // The session works normally afterwards (PostgreSQL: out of pipeline mode).
    CHECK(must_sql(*db, "UPDATE vals SET i = i + 1 WHERE id = $1", {one}).affected == 1);
}
TEST_CASE_TEMPLATE_APPLY(pipeline_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("a successful transaction commits all its statements", B, commit_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    must_sql(*db, kValuesTable);
    auto r = db->transact_sync([](SqlSession& s) -> lt::Result<void> {
        for (std::int64_t id = 1; id <= 5; ++id) {
            if (auto x = s.execute("INSERT INTO vals (id) VALUES ($1)", {SqlValue(id)}); !x) return lt::fail(x.error());
        }
        // A transaction sees its own uncommitted writes.
        auto n = s.execute("SELECT COUNT(*) FROM vals");
        if (!n || as_int(n->rows.at(0).at(0)) != 5) return lt::fail(Errc::internal, "own writes not visible");
        return lt::ok();
    });
    REQUIRE(r.has_value());
    CHECK(scalar(*db, "SELECT COUNT(*) FROM vals") == 5);
}
TEST_CASE_TEMPLATE_APPLY(commit_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("a failed transaction leaves no trace", B, rollback_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    must_sql(*db, kValuesTable);
    must_sql(*db, "INSERT INTO vals (id, i) VALUES (1, 10)");
    auto r = db->transact_sync([](SqlSession& s) -> lt::Result<void> {
        if (auto x = s.execute("INSERT INTO vals (id) VALUES (2)"); !x) return lt::fail(x.error());
        if (auto x = s.execute("UPDATE vals SET i = 99 WHERE id = 1"); !x) return lt::fail(x.error());
        if (auto x = s.execute("DELETE FROM vals WHERE id = 1"); !x) return lt::fail(x.error());
        return lt::fail(Errc::payment_required, "not enough tokens");
    });
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::payment_required);  // the body's error comes back unchanged
    CHECK(r.error().message == "not enough tokens");
    CHECK(scalar(*db, "SELECT COUNT(*) FROM vals") == 1);
    CHECK(scalar(*db, "SELECT i FROM vals WHERE id = 1") == 10);
}
TEST_CASE_TEMPLATE_APPLY(rollback_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("a transaction body that throws is rolled back and reported as internal", B, throw_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    must_sql(*db, kValuesTable);
    auto r = db->transact_sync([](SqlSession& s) -> lt::Result<void> {
        (void)s.execute("INSERT INTO vals (id) VALUES (1)");
        throw std::runtime_error("boom");
    });
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::internal);
    CHECK(scalar(*db, "SELECT COUNT(*) FROM vals") == 0);
    must_sql(*db, "INSERT INTO vals (id) VALUES (1)");  // the database is usable afterwards
}
TEST_CASE_TEMPLATE_APPLY(throw_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("a constraint violation is a conflict", B, conflict_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    must_sql(*db, "CREATE TABLE parents (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE)");
    must_sql(*db, "CREATE TABLE children (id BIGINT PRIMARY KEY, parent BIGINT NOT NULL REFERENCES parents (id))");
    must_sql(*db, "INSERT INTO parents (id, name) VALUES (1, 'a')");

    for (auto sql : {"INSERT INTO parents (id, name) VALUES (1, 'b')", "INSERT INTO parents (id, name) VALUES (2, 'a')",
                     "INSERT INTO parents (id) VALUES (3)", "INSERT INTO children (id, parent) VALUES (1, 42)"}) {
        CAPTURE(sql);
        auto r = run_sql(*db, sql);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == Errc::conflict);
        CHECK_FALSE(r.error().message.empty());
    }
    CHECK(scalar(*db, "SELECT COUNT(*) FROM parents") == 1);
    CHECK(scalar(*db, "SELECT COUNT(*) FROM children") == 0);
}
TEST_CASE_TEMPLATE_APPLY(conflict_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("an invalid statement is an internal error", B, syntax_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    for (auto sql : {"SELEC 1", "SELECT nope FROM no_such_table"}) {
        CAPTURE(sql);
        auto r = run_sql(*db, sql);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == Errc::internal);
    }
}
TEST_CASE_TEMPLATE_APPLY(syntax_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("the same statement reused many times gives correct results", B, reuse_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    must_sql(*db, kValuesTable);
    auto r = db->transact_sync([](SqlSession& s) -> lt::Result<void> {
        for (std::int64_t id = 1; id <= 300; ++id) {
            auto x = s.execute("INSERT INTO vals (id, i, s) VALUES ($1, $2, $3)",
                               {SqlValue(id), SqlValue(id * id), SqlValue(label(id))});
            if (!x) return lt::fail(x.error());
        }
        return lt::ok();
    });
    REQUIRE(r.has_value());
    for (std::int64_t id = 300; id >= 1; id -= 7) {
        auto row = must_sql(*db, "SELECT i, s FROM vals WHERE id = $1", {SqlValue(id)});
        REQUIRE(row.rows.size() == 1);
        CHECK(as_int(row.rows[0][0]) == id * id);
        CHECK(as_text(row.rows[0][1]) == label(id));
    }
    // A statement that failed runs again normally.
    CHECK_FALSE(run_sql(*db, "INSERT INTO vals (id) VALUES ($1)", {SqlValue(std::int64_t{5})}).has_value());
    CHECK(run_sql(*db, "INSERT INTO vals (id) VALUES ($1)", {SqlValue(std::int64_t{301})}).has_value());
}
TEST_CASE_TEMPLATE_APPLY(reuse_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("transact runs the body on the blocking pool and resumes on the caller's executor", B,
                          executor_case) {
    B backend;
    if (skipped(backend)) return;
    boost::asio::io_context io;  // outlives the pool: a pool thread may still be inside post() to it
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    const auto io_thread = std::this_thread::get_id();
    std::thread::id body_thread;
    bool resumed_on_io_thread = false;
    lt::Result<void> result = lt::fail(Errc::internal, "not run");
    auto task = [](SqlDatabase* d, std::thread::id* body, bool* resumed, lt::Result<void>* out,
                   std::thread::id io_id) -> boost::asio::awaitable<void> {
        *out = co_await d->transact([body](SqlSession& s) -> lt::Result<void> {
            *body = std::this_thread::get_id();
            auto r = s.execute("SELECT 1");
            if (!r) return lt::fail(r.error());
            return lt::ok();
        });
        *resumed = std::this_thread::get_id() == io_id;
    };
    boost::asio::co_spawn(io, task(db.get(), &body_thread, &resumed_on_io_thread, &result, io_thread),
                          [](std::exception_ptr e) { REQUIRE_FALSE(e); });
    io.run();
    CHECK(result.has_value());
    CHECK(body_thread != io_thread);
    CHECK(resumed_on_io_thread);
}
TEST_CASE_TEMPLATE_APPLY(executor_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("sixteen threads incrementing one counter with transact_sync lose no update", B,
                          sync_counter_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    prepare_counter(*db);
    CHECK(hammer_sync({db.get()}, 16, 200) == 0);
    CHECK(scalar(*db, "SELECT n FROM counters WHERE id = 1") == 3200);
    CHECK(scalar(*db, "SELECT COUNT(*) FROM seen") == 3200);
}
TEST_CASE_TEMPLATE_APPLY(sync_counter_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("sixteen coroutines on four io threads incrementing one counter with transact lose no update",
                          B, async_counter_case) {
    B backend;
    if (skipped(backend)) return;
    boost::asio::io_context io(4);  // outlives the pool: a pool thread may still be inside post() to it
    lt::BlockingPool pool(4);
    auto db = must_open(backend, pool);
    prepare_counter(*db);
    std::atomic<int> failures{0};
    std::atomic<int> exceptions{0};
    for (int c = 0; c < 16; ++c) {
        boost::asio::co_spawn(io, increment_many(db.get(), 200, &failures), [&exceptions](std::exception_ptr e) {
            if (e) ++exceptions;
        });
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back([&io] { io.run(); });
    for (auto& t : threads) t.join();
    CHECK(failures.load() == 0);
    CHECK(exceptions.load() == 0);
    CHECK(scalar(*db, "SELECT n FROM counters WHERE id = 1") == 3200);
    CHECK(scalar(*db, "SELECT COUNT(*) FROM seen") == 3200);
}
TEST_CASE_TEMPLATE_APPLY(async_counter_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("two handles on the same database serialize their writers", B, handles_counter_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto first = must_open(backend, pool);
    auto second = must_open(backend, pool);
    prepare_counter(*first);
    CHECK(hammer_sync({first.get(), second.get()}, 16, 100) == 0);
    CHECK(scalar(*second, "SELECT n FROM counters WHERE id = 1") == 1600);
    CHECK(scalar(*first, "SELECT COUNT(*) FROM seen") == 1600);
}
TEST_CASE_TEMPLATE_APPLY(handles_counter_case, SqlSharedContractBackends);

TEST_CASE_TEMPLATE_DEFINE("data survives closing and reopening the database", B, reopen_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    {
        auto db = must_open(backend, pool);
        must_sql(*db, kValuesTable);
        must_sql(*db, "INSERT INTO vals (id, s) VALUES ($1, $2)", {SqlValue(std::int64_t{1}), SqlValue(std::string("kept"))});
        CHECK(lt::ports::run_migrations(*db, "demo", sample_migrations()) == 2);
    }
    auto db = must_open(backend, pool);
    auto r = must_sql(*db, "SELECT s FROM vals WHERE id = 1");
    REQUIRE(r.rows.size() == 1);
    CHECK(as_text(r.rows[0][0]) == "kept");
    CHECK(lt::ports::run_migrations(*db, "demo", sample_migrations()) == 0);
    CHECK(scalar(*db, "SELECT COUNT(*) FROM widgets") == 2);
}
TEST_CASE_TEMPLATE_APPLY(reopen_case, SqlSharedContractBackends);

TEST_CASE_TEMPLATE_DEFINE("migrations are applied once in version order and recorded", B, migrate_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    auto migrations = sample_migrations();
    std::swap(migrations[0], migrations[1]);  // the runner sorts by version
    auto applied = lt::ports::run_migrations(*db, "demo", migrations);
    REQUIRE_MESSAGE(applied.has_value(), (applied ? std::string() : applied.error().message));
    CHECK(*applied == 2);
    CHECK(scalar(*db, "SELECT COUNT(*) FROM widgets") == 2);

    auto rec = must_sql(*db, "SELECT version, name, applied_at FROM lt_schema_migrations WHERE module = $1 ORDER BY version",
                        {SqlValue(std::string("demo"))});
    REQUIRE(rec.rows.size() == 2);
    CHECK(as_int(rec.rows[0][0]) == 1);
    CHECK(as_text(rec.rows[0][1]) == "widgets");
    CHECK(as_int(rec.rows[1][0]) == 2);
    CHECK(as_text(rec.rows[1][1]) == "widget_seed");
    CHECK_FALSE(as_text(rec.rows[0][2]).value_or("").empty());

    CHECK(lt::ports::run_migrations(*db, "demo", migrations) == 0);
    CHECK(scalar(*db, "SELECT COUNT(*) FROM widgets") == 2);

    migrations.push_back(Migration{3, "widget_color", "ALTER TABLE widgets ADD COLUMN color TEXT;"});
    CHECK(lt::ports::run_migrations(*db, "demo", migrations) == 1);
    CHECK(scalar(*db, "SELECT COUNT(*) FROM widgets WHERE color IS NULL") == 2);

    // Versions are per module.
    CHECK(lt::ports::run_migrations(*db, "other", std::vector<Migration>{{1, "gadgets", "CREATE TABLE gadgets (id BIGINT);"}}) == 1);
    CHECK(scalar(*db, "SELECT COUNT(*) FROM lt_schema_migrations") == 4);
}
TEST_CASE_TEMPLATE_APPLY(migrate_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("a broken migration is rolled back and reported and not recorded", B, broken_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    std::vector<Migration> migrations = sample_migrations();
    migrations.push_back(Migration{3, "half_done", "CREATE TABLE half (x BIGINT);\nINSERT INTO no_such_table VALUES (1);"});
    migrations.push_back(Migration{4, "never_reached", "CREATE TABLE later (x BIGINT);"});
    auto r = lt::ports::run_migrations(*db, "demo", migrations);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("half_done") != std::string::npos);
    CHECK_FALSE(table_exists(*db, "half"));
    CHECK_FALSE(table_exists(*db, "later"));
    CHECK(scalar(*db, "SELECT COUNT(*) FROM lt_schema_migrations WHERE module = $1", {SqlValue(std::string("demo"))}) == 2);

    migrations[2].sql = "CREATE TABLE half (x BIGINT);";
    CHECK(lt::ports::run_migrations(*db, "demo", migrations) == 2);
    CHECK(table_exists(*db, "half"));
    CHECK(table_exists(*db, "later"));
}
TEST_CASE_TEMPLATE_APPLY(broken_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("migrations with version zero or a duplicate version are refused", B, invalid_migrations_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    auto zero = lt::ports::run_migrations(*db, "demo", std::vector<Migration>{{0, "bad file name", ""}});
    REQUIRE_FALSE(zero.has_value());
    CHECK(zero.error().code == Errc::invalid_argument);
    CHECK(zero.error().message.find("bad file name") != std::string::npos);
    auto dup = lt::ports::run_migrations(
        *db, "demo", std::vector<Migration>{{1, "a", "CREATE TABLE a (x BIGINT);"}, {1, "b", "CREATE TABLE b (x BIGINT);"}});
    REQUIRE_FALSE(dup.has_value());
    CHECK(dup.error().code == Errc::invalid_argument);
    CHECK_FALSE(table_exists(*db, "a"));
}
TEST_CASE_TEMPLATE_APPLY(invalid_migrations_case, SqlContractBackends);

namespace {

/// Runs `runners` migration runners at once (round-robin over `handles`); each of the 5 versions
/// logs one row, so the log must hold exactly 5 rows and the applied counts must add up to 5.
void race_migrations(std::vector<SqlDatabase*> handles, int runners) {
    must_sql(*handles[0], "CREATE TABLE migration_log (version BIGINT NOT NULL)");
    std::vector<Migration> migrations;
    for (int v = 1; v <= 5; ++v) {
        migrations.push_back(Migration{v, "step" + std::to_string(v),
                                       "CREATE TABLE step" + std::to_string(v) + " (x BIGINT);\n"
                                       "INSERT INTO migration_log (version) VALUES (" + std::to_string(v) + ");"});
    }
    std::atomic<int> total{0};
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < runners; ++t) {
        SqlDatabase* db = handles[static_cast<std::size_t>(t) % handles.size()];
        threads.emplace_back([db, &migrations, &total, &errors] {
            auto r = lt::ports::run_migrations(*db, "race", migrations);
            if (r) total += *r; else ++errors;
        });
    }
    for (auto& t : threads) t.join();
    CHECK(errors.load() == 0);
    CHECK(total.load() == 5);
    CHECK(scalar(*handles[0], "SELECT COUNT(*) FROM migration_log") == 5);
    CHECK(scalar(*handles[0], "SELECT COUNT(DISTINCT version) FROM migration_log") == 5);
    CHECK(scalar(*handles[0], "SELECT COUNT(*) FROM lt_schema_migrations WHERE module = 'race'") == 5);
}

}  // namespace

TEST_CASE_TEMPLATE_DEFINE("concurrent migration runners apply each version once", B, race_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto db = must_open(backend, pool);
    race_migrations({db.get()}, 4);
}
TEST_CASE_TEMPLATE_APPLY(race_case, SqlContractBackends);

TEST_CASE_TEMPLATE_DEFINE("migration runners on two handles apply each version once", B, race_handles_case) {
    B backend;
    if (skipped(backend)) return;
    lt::BlockingPool pool(2);
    auto first = must_open(backend, pool);
    auto second = must_open(backend, pool);
    race_migrations({first.get(), second.get()}, 4);
}
TEST_CASE_TEMPLATE_APPLY(race_handles_case, SqlSharedContractBackends);
