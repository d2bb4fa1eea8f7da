#pragma once
/// Forwarder: signed HTTP calls from this process to instances of modules hosted elsewhere (split mode,
/// CONTRACT 32–34). Picks an UP instance of the module from the Directory round-robin, skips instances
/// whose circuit breaker is open (kBreakerFailures consecutive failures open it for kBreakerOpen), and
/// retries a failed connection on the next instance when the caller allows it. Every call is signed
/// with cluster::sign (the principal crosses only inside the signature) and carries the caller's
/// deadline. Thread-safe; call from any I/O thread (everything is asynchronous).

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "lt/bus/bus.hpp"
#include "lt/core/cluster.hpp"
#include "lt/core/log.hpp"
#include "lt/core/result.hpp"
#include "lt/http/client.hpp"

namespace lt::cluster {

/// Consecutive failures (connection error or timeout) that open an instance's breaker.
inline constexpr int kBreakerFailures = 3;
/// How long an open breaker keeps calls away from the instance.
inline constexpr std::chrono::milliseconds kBreakerOpen{5000};
/// Deadline of a call whose caller set none.
inline constexpr std::chrono::milliseconds kDefaultCallTimeout{30000};

/// The module owning a bus command or event topic, from its prefix (`auth.*` → auth, `provider.*` →
/// providers, `token.*` → token, `registry.*`, `config.*`, `analytics.*`); empty when unknown.
std::string owner_of_command(std::string_view name);

/// One outgoing signed call.
struct Call {
    http::ClientRequest request;                ///< method, target (path + query), headers, body
    std::optional<bus::Principal> principal;    ///< signed into X-Lt-Principal
    std::string request_id;                     ///< X-Request-Id (signed)
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

class Forwarder {
public:
    /// `directory` and `client` outlive the forwarder. `secret`: cluster.secret.
    Forwarder(const Directory& directory, http::Client& client, std::string secret, Logger log);

    /// Sends `call` to an UP instance of `module`. With `retry`, a failed connection is retried on the
    /// other instances (once each) while the deadline allows. Errc::unavailable when no instance is
    /// known or none answered; Errc::timeout past the deadline. Any HTTP status is a success here.
    boost::asio::awaitable<Result<http::ClientResponse>> send(std::string module, Call call, bool retry);

    /// Sends `call` to one instance's base URL (broadcasts). Updates that instance's breaker.
    boost::asio::awaitable<Result<http::ClientResponse>> send_to(Instance instance, Call call);

    /// The signing secret.
    const std::string& secret() const { return secret_; }

private:
    bool available(const std::string& key, std::chrono::steady_clock::time_point now);
    void record(const std::string& key, bool success);

    struct Breaker {
        int failures = 0;
        std::chrono::steady_clock::time_point open_until{};
    };
    const Directory& directory_;
    http::Client& client_;
    std::string secret_;
    Logger log_;
    std::atomic<std::size_t> next_{0};
    std::mutex mutex_;  ///< guards breakers_
    std::unordered_map<std::string, Breaker> breakers_;  ///< by instance URL
};

}  // namespace lt::cluster
