#pragma once
/// IoPool: one single-threaded io_context per thread. Each connection lives on one context for its
/// whole life, so a request never hops threads and handlers never need a strand or a lock-protected
/// scheduler (concurrency hint 1). The first context also runs module start/stop and timers.

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace lt {

class IoPool {
public:
    /// Creates `threads` contexts (at least 1). No thread runs until run().
    explicit IoPool(std::size_t threads);
    ~IoPool();
    IoPool(const IoPool&) = delete;
    IoPool& operator=(const IoPool&) = delete;

    /// The context of thread 0 (start-up, shutdown, background jobs).
    boost::asio::io_context& main() { return *contexts_.front(); }
    /// Contexts in round-robin order, for new connections. Thread-safe.
    boost::asio::io_context& next();
    std::size_t size() const { return contexts_.size(); }

    /// Starts one thread per context.
    void run();
    /// Lets the contexts finish once idle and stops them. Thread-safe.
    void stop();
    /// Joins the threads (not from one of them).
    void join();

private:
    using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<Guard> guards_;
    std::vector<std::thread> threads_;
    std::atomic<std::size_t> next_{0};
};

}  // namespace lt
