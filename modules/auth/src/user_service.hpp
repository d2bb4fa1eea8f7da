#pragma once
/// UserService: registration, login, role management and the admin bootstrap. Takes ports and a
/// clock; SQL runs on the blocking pool, bcrypt on the PasswordPool. Thread-safe: called from any I/O thread.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "auth_config.hpp"
#include "auth_metrics.hpp"
#include "key_manager.hpp"
#include "password_pool.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::auth {

/// Fields of a register or login body; nullopt when absent, null or not a string.
struct Credentials {
    std::optional<std::string> username;
    std::optional<std::string> email;  ///< register only
    std::optional<std::string> password;
};

/// Answer of register and login: {"userId","username","token","roles"}.
struct AuthResult {
    std::string user_id;
    std::string username;
    std::string token;
    std::vector<std::string> roles;  ///< sorted
};

boost::json::value to_json(const AuthResult& r);

/// The built-in role named `text` in any letter case ("USER" or "ADMIN"), else nullopt.
std::optional<std::string> parse_role(std::string_view text);

/// Creates the user `username` or updates its password; grants USER, and ADMIN when `admin`.
/// Validates like registration (Errc::invalid_argument). Blocking (bcrypt + SQL): start-up, CLI or
/// the blocking pool only. Returns the user id.
Result<std::string> upsert_user(ports::SqlDatabase& db, std::chrono::system_clock::time_point now,
                                const std::string& username, const std::string& email, const std::string& password,
                                bool admin);

/// Thread-safe: any I/O thread may call it concurrently.
class UserService {
public:
    UserService(ports::SqlDatabase& db, PasswordPool& hashing, Clock& clock, const KeyManager& keys,
                AuthMetrics& metrics);

    /// A1. Errc::invalid_argument with the contract messages.
    boost::asio::awaitable<Result<AuthResult>> register_user(Credentials in);
    /// A2. Errc::unauthenticated: "username and password are required" / "invalid credentials".
    boost::asio::awaitable<Result<AuthResult>> login(Credentials in);
    /// Grants (`grant`) or removes a built-in role. `user_id` and `role` must be valid
    /// (Errc::invalid_argument); an unknown user is Errc::not_found "user not found". Returns the
    /// user's new roles version.
    boost::asio::awaitable<Result<std::int64_t>> set_role(std::string user_id, std::string role, bool grant);

private:
    /// "" when free, else the duplicate message.
    boost::asio::awaitable<Result<std::string>> duplicate_of(std::string username, std::string email);

    ports::SqlDatabase& db_;
    PasswordPool& hashing_;
    Clock& clock_;
    const KeyManager& keys_;
    AuthMetrics& metrics_;
};

}  // namespace lt::auth
