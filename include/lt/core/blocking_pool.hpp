#pragma once
/// BlockingPool: threads for synchronous drivers (SQLite, libpq, hiredis, bcrypt) so that I/O threads
/// never block. `run()` hops to the pool, runs the function and resumes the caller on its own executor.

#include <cstddef>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace lt {

class BlockingPool {
public:
    /// Starts `threads` worker threads.
    explicit BlockingPool(std::size_t threads) : pool_(threads) {}
    ~BlockingPool() { stop(); }
    BlockingPool(const BlockingPool&) = delete;
    BlockingPool& operator=(const BlockingPool&) = delete;

    /// Runs `f()` on a pool thread; the awaiting coroutine resumes on its own executor with the
    /// result. `f` must not throw (ports return Result). Callable from any coroutine.
    template <class F>
    auto run(F f) -> boost::asio::awaitable<std::invoke_result_t<F>> {
        using R = std::invoke_result_t<F>;
        return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(R)>(
            [this, f = std::move(f)](auto handler) mutable {
                auto ex = boost::asio::get_associated_executor(handler);
                boost::asio::post(pool_, [f = std::move(f), handler = std::move(handler), ex]() mutable {
                    R r = f();
                    boost::asio::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable {
                        std::move(handler)(std::move(r));
                    });
                });
            },
            boost::asio::use_awaitable);
    }

    /// Executor of the pool, for code that posts work itself.
    boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }

    /// Waits for queued work and joins the threads. Idempotent.
    void stop() {
        pool_.join();
    }

private:
    boost::asio::thread_pool pool_;
};

}  // namespace lt
