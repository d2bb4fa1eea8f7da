#pragma once
/// LoginLimiter: failed-login limits per account and per client IP (issue 15 item 5). A fixed window of
/// failures per key in the key-value port, one atomic script (C++ and Lua twins), so gateways sharing
/// Redis share the limit. A login is checked against both windows before its password is; a failure
/// counts in both; a success clears the account's window. Logins already past the check when the
/// limit is reached still finish (at most the bcrypt pool's queue bound of them).

#include <chrono>
#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "lt/core/result.hpp"
#include "lt/ports/key_value_store.hpp"

namespace lt::auth {

/// auth.login.*.
struct LoginLimitConfig {
    bool enabled = true;
    std::int64_t max_failures_per_account = 10;  ///< per window
    std::int64_t max_failures_per_ip = 100;      ///< per window
    std::chrono::seconds window{300};
};

/// The outcome of LoginLimiter::attempt.
struct LoginAdmission {
    bool allowed = true;
    std::int64_t retry_after_seconds = 0;  ///< when refused: whole seconds until the window ends (>= 1)
};

/// Thread-safe (state lives in the store); call from any coroutine.
class LoginLimiter {
public:
    /// `kv` may be null (no key-value port: the limiter is off). It must outlive the limiter.
    LoginLimiter(ports::KeyValueStore* kv, LoginLimitConfig config);

    /// Whether a login for `account` (its canonical name) from `ip` may be tried now. A store error
    /// lets it through (logins must not depend on Redis being up).
    boost::asio::awaitable<LoginAdmission> check(std::string account, std::string ip,
                                                std::chrono::system_clock::time_point now);
    /// Counts a failed login in both windows.
    boost::asio::awaitable<void> failed(std::string account, std::string ip, std::chrono::system_clock::time_point now);
    /// Clears the account's window after a successful login.
    boost::asio::awaitable<void> succeeded(std::string account, std::chrono::system_clock::time_point now);

    /// The window script (native and Lua twins); exposed for the twin test. ARGV: op (1 = count a
    /// failure, 2 = reset, 3 = check without writing), now ms, window ms, capacity, ttl ms. Fields:
    /// f0 = window start ms, f1 = failures. Reply {allowed (check: failures < capacity), failures,
    /// window start}.
    static const ports::AtomicScript& script();

    const LoginLimitConfig& config() const { return config_; }

private:
    ports::KeyValueStore* kv_;
    LoginLimitConfig config_;
};

}  // namespace lt::auth
