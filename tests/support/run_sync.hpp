#pragma once
/// run_sync: awaits an awaitable from a plain thread (tests only). The awaitable runs on an io_context
/// private to the calling thread; the call returns when it has completed, whatever executor the
/// awaited operation itself completes on (a network adapter's), since the adapter keeps the caller's
/// executor busy until it resumes it.

#include <exception>
#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace lt::test {

/// The value of `op`, awaited on this thread's own io_context; rethrows what it threw. Never call it
/// from a thread that runs an io_context the operation needs.
template <class T>
T run_sync(boost::asio::awaitable<T> op) {
    thread_local boost::asio::io_context io(1);
    std::optional<T> value;
    std::exception_ptr error;
    io.restart();
    boost::asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T v) {
        if (e) {
            error = e;
        } else {
            value.emplace(std::move(v));
        }
    });
    io.run();
    if (error) std::rethrow_exception(error);
    return std::move(*value);
}

}  // namespace lt::test
