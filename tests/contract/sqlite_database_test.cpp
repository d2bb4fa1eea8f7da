// What only the SQLite adapter promises beyond the SqlDatabase contract, and the migration file parser.

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "contract/sql_database_contract.hpp"
#include "lt/core/embedded.hpp"

using lt::Errc;
using lt::adapters::SqliteDatabase;
using lt::adapters::SqliteOptions;
using lt::ports::as_int;
using lt::ports::as_text;
using lt::ports::SqlSession;
using lt::ports::SqlValue;
using namespace lt::test;

namespace {

std::unique_ptr<SqliteDatabase> open_sqlite(const std::filesystem::path& file, lt::BlockingPool& pool,
                                            SqliteOptions opts = {}) {
    auto db = SqliteDatabase::open(file, pool, opts);
    REQUIRE_MESSAGE(db.has_value(), (db ? std::string() : db.error().message));
    return std::move(*db);
}

}  // namespace

TEST_CASE("sqlite opens its file in WAL mode with NORMAL sync and foreign keys on") {
    TempDir dir("sqlite");
    lt::BlockingPool pool(1);
    const auto file = dir.path() / "a" / "b" / "c" / "lt.db";
    auto db = open_sqlite(file, pool);
    CHECK(std::filesystem::exists(file));  // parent folders were created
    CHECK(db->dialect() == "sqlite");
    CHECK(as_text(must_sql(*db, "PRAGMA journal_mode").rows.at(0).at(0)) == "wal");
    CHECK(scalar(*db, "PRAGMA synchronous") == 1);
    CHECK(scalar(*db, "PRAGMA foreign_keys") == 1);
    CHECK(scalar(*db, "PRAGMA busy_timeout") == 5000);
}

TEST_CASE("sqlite reports an error when the data folder cannot be created") {
    TempDir dir("sqlite");
    lt::BlockingPool pool(1);
    std::FILE* f = std::fopen((dir.path() / "file").c_str(), "w");
    REQUIRE(f != nullptr);
    std::fclose(f);
    auto db = SqliteDatabase::open(dir.path() / "file" / "sub" / "lt.db", pool);
    REQUIRE_FALSE(db.has_value());
    CHECK(db.error().code == Errc::internal);
    CHECK_FALSE(SqliteDatabase::open("", pool).has_value());
}

TEST_CASE("sqlite execute refuses several statements while execute_script runs them") {
    lt::BlockingPool pool(1);
    auto db = open_sqlite(":memory:", pool);
    auto several = run_sql(*db, "CREATE TABLE a (x INTEGER); CREATE TABLE b (x INTEGER);");
    REQUIRE_FALSE(several.has_value());
    CHECK(several.error().code == Errc::invalid_argument);
    CHECK(run_sql(*db, "SELECT 1; -- a trailing comment is fine").has_value());

    auto script = db->transact_sync([&](SqlSession& s) {
        return db->execute_script(s, "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);\nINSERT INTO a VALUES (2);");
    });
    REQUIRE(script.has_value());
    CHECK(scalar(*db, "SELECT SUM(x) FROM a") == 3);

    auto dup = db->transact_sync([&](SqlSession& s) {
        return db->execute_script(s, "CREATE TABLE u (x INTEGER UNIQUE); INSERT INTO u VALUES (1); INSERT INTO u VALUES (1);");
    });
    REQUIRE_FALSE(dup.has_value());
    CHECK(dup.error().code == Errc::conflict);
    CHECK_FALSE(table_exists(*db, "u"));

    auto commit = db->transact_sync([&](SqlSession& s) { return db->execute_script(s, "COMMIT;"); });
    REQUIRE_FALSE(commit.has_value());
    CHECK(commit.error().code == Errc::invalid_argument);
    CHECK(run_sql(*db, "SELECT 1").has_value());  // still usable
}

TEST_CASE("sqlite execute_script refuses a session of another database") {
    lt::BlockingPool pool(1);
    auto first = open_sqlite(":memory:", pool);
    auto second = open_sqlite(":memory:", pool);
    auto r = first->transact_sync([&](SqlSession& s) { return second->execute_script(s, "CREATE TABLE a (x INTEGER);"); });
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::invalid_argument);
}

TEST_CASE("sqlite refuses placeholders other than dollar numbers") {
    lt::BlockingPool pool(1);
    auto db = open_sqlite(":memory:", pool);
    for (auto sql : {"SELECT :name", "SELECT @name", "SELECT $name"}) {
        CAPTURE(sql);
        auto r = run_sql(*db, sql, {SqlValue(std::int64_t{1})});
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == Errc::invalid_argument);
    }
    CHECK(scalar(*db, "SELECT ?1 + $2", {SqlValue(std::int64_t{40}), SqlValue(std::int64_t{2})}) == 42);
}

TEST_CASE("sqlite reads blobs as byte strings") {
    lt::BlockingPool pool(1);
    auto db = open_sqlite(":memory:", pool);
    auto r = must_sql(*db, "SELECT X'00FF41'");
    CHECK(as_text(r.rows.at(0).at(0)) == std::string("\0\xff" "A", 3));
}

TEST_CASE("a nested sqlite transaction fails instead of deadlocking") {
    lt::BlockingPool pool(1);
    auto db = open_sqlite(":memory:", pool);
    lt::Result<void> inner = lt::ok();
    auto outer = db->transact_sync([&](SqlSession&) {
        inner = db->transact_sync([](SqlSession&) { return lt::ok(); });
        return lt::ok();
    });
    CHECK(outer.has_value());
    REQUIRE_FALSE(inner.has_value());
    CHECK(inner.error().code == Errc::internal);
}

TEST_CASE("the sqlite statement cache evicts old statements and keeps results right") {
    lt::BlockingPool pool(1);
    SqliteOptions opts;
    opts.statement_cache_size = 2;
    auto db = open_sqlite(":memory:", pool, opts);
    must_sql(*db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)");
    for (std::int64_t i = 1; i <= 5; ++i) must_sql(*db, "INSERT INTO t (id, v) VALUES ($1, $2)", {SqlValue(i), SqlValue(i * 10)});
    for (int round = 0; round < 20; ++round) {
        const std::int64_t id = round % 5 + 1;
        CHECK(scalar(*db, "SELECT v FROM t WHERE id = $1", {SqlValue(id)}) == id * 10);
        CHECK(scalar(*db, "SELECT COUNT(*) FROM t WHERE v > $1", {SqlValue(id * 10)}) == 5 - id);
        CHECK(scalar(*db, "SELECT id FROM t WHERE v = $1", {SqlValue(id * 10)}) == id);
    }
}

TEST_CASE("a cached sqlite statement sees schema changes") {
    lt::BlockingPool pool(1);
    auto db = open_sqlite(":memory:", pool);
    must_sql(*db, "CREATE TABLE t (a INTEGER)");
    must_sql(*db, "INSERT INTO t (a) VALUES (1)");
    CHECK(must_sql(*db, "SELECT * FROM t").columns.size() == 1);
    must_sql(*db, "ALTER TABLE t ADD COLUMN b TEXT");
    auto r = must_sql(*db, "SELECT * FROM t");
    CHECK(r.columns == std::vector<std::string>{"a", "b"});
}

TEST_CASE("sql migration files are parsed into versions and names sorted by version") {
    const std::vector<std::pair<std::string_view, std::string_view>> files = {
        {"auth/sqlite/0010_api_keys.sql", "CREATE TABLE k (x INTEGER);"},
        {"auth/sqlite/0001_users.sql", "CREATE TABLE u (x INTEGER);"},
        {"auth/sqlite/0002_user_roles.sql", "ALTER TABLE u ADD COLUMN r TEXT;"},
        {"auth/postgres/0001_users.sql", "CREATE TABLE u (x BIGINT);"},
        {"authz/sqlite/0001_other.sql", "SELECT 1;"},
        {"token/sqlite/0001_quotas.sql", "SELECT 1;"},
    };
    auto parsed = lt::ports::parse_migration_files(files, "auth", "sqlite");
    REQUIRE(parsed.has_value());
    REQUIRE(parsed->size() == 3);
    CHECK((*parsed)[0].version == 1);
    CHECK((*parsed)[0].name == "users");
    CHECK((*parsed)[0].sql == "CREATE TABLE u (x INTEGER);");
    CHECK((*parsed)[1].version == 2);
    CHECK((*parsed)[1].name == "user_roles");
    CHECK((*parsed)[2].version == 10);
    CHECK((*parsed)[2].name == "api_keys");

    auto pg = lt::ports::parse_migration_files(files, "auth", "postgres");
    REQUIRE(pg.has_value());
    CHECK(pg->size() == 1);
    auto none = lt::ports::parse_migration_files(files, "registry", "sqlite");
    REQUIRE(none.has_value());
    CHECK(none->empty());
}

TEST_CASE("a malformed or duplicate sql migration file name is an invalid argument") {
    for (std::string_view bad : {"auth/sqlite/users.sql", "auth/sqlite/0001.sql", "auth/sqlite/0001_.sql",
                                 "auth/sqlite/0000_zero.sql", "auth/sqlite/0001_users.txt", "auth/sqlite/x/0001_a.sql",
                                 "auth/sqlite/-1_neg.sql"}) {
        CAPTURE(bad);
        const std::vector<std::pair<std::string_view, std::string_view>> files = {{bad, "SELECT 1;"}};
        auto r = lt::ports::parse_migration_files(files, "auth", "sqlite");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == Errc::invalid_argument);
    }
    const std::vector<std::pair<std::string_view, std::string_view>> dup = {{"auth/sqlite/0001_a.sql", ""},
                                                                             {"auth/sqlite/01_b.sql", ""}};
    auto r = lt::ports::parse_migration_files(dup, "auth", "sqlite");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::invalid_argument);
}

TEST_CASE("every embedded sql migration file is well named") {
    const auto files = lt::embedded::migration_files();
    std::set<std::pair<std::string, std::string>> folders;
    for (const auto& [path, content] : files) {
        const auto first = path.find('/');
        const auto second = first == std::string_view::npos ? first : path.find('/', first + 1);
        REQUIRE_MESSAGE(second != std::string_view::npos, path);
        folders.emplace(std::string(path.substr(0, first)), std::string(path.substr(first + 1, second - first - 1)));
    }
    for (const auto& [module, dialect] : folders) {
        CAPTURE(module);
        CAPTURE(dialect);
        CHECK((dialect == "sqlite" || dialect == "postgres"));
        auto parsed = lt::ports::parse_migration_files(files, module, dialect);
        CHECK_MESSAGE(parsed.has_value(), (parsed ? std::string() : parsed.error().message));
        auto embedded = lt::ports::embedded_migrations(module, dialect);
        CHECK(embedded.size() == (parsed ? parsed->size() : 1));
    }
    CHECK(lt::ports::embedded_migrations("no_such_module", "sqlite").empty());
}

TEST_CASE("every embedded sqlite migration applies to a fresh database") {
    const auto files = lt::embedded::migration_files();
    std::set<std::string> modules;
    for (const auto& [path, content] : files) {
        if (path.find("/sqlite/") != std::string_view::npos) modules.emplace(path.substr(0, path.find('/')));
    }
    lt::BlockingPool pool(1);
    auto db = open_sqlite(":memory:", pool);
    for (const auto& module : modules) {
        CAPTURE(module);
        auto migrations = lt::ports::embedded_migrations(module, "sqlite");
        auto r = lt::ports::run_migrations(*db, module, migrations);
        CHECK_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
        CHECK(lt::ports::run_migrations(*db, module, migrations) == 0);
    }
}
