#pragma once
/// App: one `leaky-tokens serve` process — the io_context and its threads, the kernel services, the
/// adapters and the hosted modules, with start-up and graceful shutdown.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lt/core/config.hpp"
#include "lt/core/result.hpp"

namespace lt::ports {
class EventLog;
}  // namespace lt::ports

namespace lt::app {

struct AppOptions {
    std::vector<std::string> modules;  ///< names to host; empty = all
    std::string profile;               ///< for /actuator/info
    bool handle_signals = true;        ///< SIGINT/SIGTERM start a graceful shutdown
    /// How the configuration was loaded (without config.url's values): POST /actuator/refresh loads it
    /// again the same way. Unset: refresh answers 503.
    std::optional<config::LoadOptions> load;
};

class App {
public:
    /// Builds everything (no listening yet). Errors name the failing part.
    static Result<std::unique_ptr<App>> create(config::Config cfg, AppOptions options);
    ~App();

    /// Runs the threads, starts the modules in order (the gateway last) and returns once
    /// /actuator/health would answer UP, or the first start error.
    Result<void> start();
    /// The public listener's port (after start).
    std::uint16_t port() const;
    /// Starts a graceful shutdown: stop accepting, finish in-flight requests within
    /// server.shutdown-timeout, stop modules in reverse order. Thread-safe, idempotent, non-blocking.
    void shutdown();
    /// Blocks until the shutdown finished and the threads joined. Returns the exit code.
    int wait();
    /// The event log the hosted modules share (tests append events to it). Any thread.
    ports::EventLog& event_log();

    struct Impl;

private:
    explicit App(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace lt::app
