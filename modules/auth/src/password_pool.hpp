#pragma once
/// PasswordPool: bcrypt's own bounded pool (issue 15 item 5). Password hashing (~50 ms of CPU each)
/// runs here, never on the kernel's blocking pool, so a burst of logins cannot starve SQL work; jobs
/// beyond `max_queued` are refused at once instead of queueing without bound.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>

#include <boost/asio/awaitable.hpp>

#include "lt/core/blocking_pool.hpp"

namespace lt::auth {

/// Thread-safe: any coroutine may call run().
class PasswordPool {
public:
    /// `threads` bcrypt threads (>= 1); at most `max_queued` jobs running or waiting.
    PasswordPool(std::size_t threads, std::int64_t max_queued)
        : pool_(threads < 1 ? 1 : threads), threads_(threads < 1 ? 1 : threads), max_queued_(max_queued) {}

    /// Runs `f()` on a bcrypt thread; nullopt (at once) when `max_queued` jobs are already in.
    template <class F>
    boost::asio::awaitable<std::optional<std::invoke_result_t<F>>> run(F f) {
        if (in_flight_.fetch_add(1) >= max_queued_) {
            in_flight_.fetch_sub(1);
            co_return std::nullopt;
        }
        auto op = pool_.run(std::move(f));
        auto r = co_await std::move(op);
        in_flight_.fetch_sub(1);
        co_return std::optional<std::invoke_result_t<F>>(std::move(r));
    }

    /// Number of bcrypt threads (for tests and the start log).
    std::size_t threads() const { return threads_; }
    /// Jobs running or waiting now. Any thread.
    std::int64_t in_flight() const { return in_flight_.load(); }
    /// The bound on in_flight().
    std::int64_t max_queued() const { return max_queued_; }
    /// Joins the threads (module stop). Idempotent.
    void stop() { pool_.stop(); }

private:
    BlockingPool pool_;
    std::size_t threads_;
    std::int64_t max_queued_;
    std::atomic<std::int64_t> in_flight_{0};
};

}  // namespace lt::auth
