#pragma once
/// A fresh, empty schema on the test PostgreSQL server named by LT_TEST_POSTGRES_URL (see
/// scripts/test-servers.sh), dropped with the object. url() reaches it: a connection whose
/// search_path is that schema, so every table a test creates (and lt_schema_migrations) lands there.

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include <doctest/doctest.h>

#include "lt/adapters/postgres_database.hpp"

namespace lt::test {

/// The test server's URL, or nullopt when LT_TEST_POSTGRES_URL is unset or empty.
inline std::optional<std::string> postgres_test_url() {
    const char* url = std::getenv("LT_TEST_POSTGRES_URL");
    if (!url || !*url) return std::nullopt;
    return std::string(url);
}

/// The message shown when a PostgreSQL case is skipped.
inline constexpr const char* kNoPostgres =
    "LT_TEST_POSTGRES_URL is not set (scripts/test-servers.sh start, then source build/test-servers.env)";

/// Reports a skipped case: a doctest MESSAGE and a line on stdout (MESSAGE alone shows only when
/// something fails or with -s).
inline void skip_notice(const char* why = kNoPostgres) {
    MESSAGE(why);
    std::printf("SKIPPED: %s\n", why);
    std::fflush(stdout);
}

/// `base` with extra libpq URI parameters (`k=v` already percent-encoded) appended.
inline std::string with_uri_params(const std::string& base, const std::string& params) {
    return base + (base.find('?') == std::string::npos ? "?" : "&") + params;
}

class PostgresSchema {
public:
    /// Creates schema lt_t_<random> when the server is configured; otherwise enabled() is false.
    PostgresSchema() {
        auto base = postgres_test_url();
        if (!base) return;
        base_ = *base;
        std::random_device rd;
        name_ = "lt_t_" + std::to_string(rd()) + std::to_string(rd() % 100000);
        admin_ = open_admin();
        auto r = admin_->transact_sync([this](lt::ports::SqlSession& s) -> lt::Result<void> {
            auto x = s.execute("CREATE SCHEMA " + name_);
            if (!x) return lt::fail(x.error());
            return lt::ok();
        });
        REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
    }
    ~PostgresSchema() {
        if (!admin_) return;
        (void)admin_->transact_sync([this](lt::ports::SqlSession& s) -> lt::Result<void> {
            auto x = s.execute("DROP SCHEMA " + name_ + " CASCADE");
            if (!x) return lt::fail(x.error());
            return lt::ok();
        });
    }
    PostgresSchema(const PostgresSchema&) = delete;
    PostgresSchema& operator=(const PostgresSchema&) = delete;

    /// False when LT_TEST_POSTGRES_URL is not set (the case must skip with kNoPostgres).
    bool enabled() const { return admin_ != nullptr; }
    /// The schema's name.
    const std::string& name() const { return name_; }
    /// URL of the server with this schema first on the search_path (and `extra` URI parameters).
    std::string url(const std::string& extra = {}) const {
        std::string params = "options=-csearch_path%3D" + name_;
        if (!extra.empty()) params += "&" + extra;
        return with_uri_params(base_, params);
    }
    /// The server URL as given (public schema), for administrative statements.
    const std::string& base_url() const { return base_; }
    /// A one-connection handle on the server (public schema) for administrative statements.
    lt::adapters::PostgresDatabase& admin() { return *admin_; }

private:
    std::unique_ptr<lt::adapters::PostgresDatabase> open_admin() const {
        auto db = lt::adapters::PostgresDatabase::open(base_, 1);
        REQUIRE_MESSAGE(db.has_value(), (db ? std::string() : db.error().message));
        return std::move(*db);
    }

    std::string base_;
    std::string name_;
    std::unique_ptr<lt::adapters::PostgresDatabase> admin_;
};

}  // namespace lt::test
