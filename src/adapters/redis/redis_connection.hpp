#pragma once
/// RedisConnection: one pipelined connection of a RedisKeyValueStore's pool. Asio owns the socket
/// (plain TCP or TLS); hiredis only encodes and decodes (resp.hpp).
///
/// Pipelining: commands are queued in call order, written back to back (one write carries every
/// command queued meanwhile) and matched to replies first-in first-out. Every call has a deadline;
/// when the oldest call outlives it the connection is dropped and every queued call fails with
/// Errc::unavailable (a reply that late would be useless, and a Redis that slow is treated as gone).
/// The connection reconnects by itself: at once after losing an established connection, then with an
/// exponential backoff (capped) while attempts fail. While it is down, calls fail at once.
///
/// Threads: every member touching the socket or the queue runs on the connection's strand; call(),
/// state() and stop() may be used from any thread. The caller of call() resumes on its own executor.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "lt/core/log.hpp"
#include "lt/core/result.hpp"
#include "redis_url.hpp"
#include "resp.hpp"

namespace lt::adapters::redis {

/// What every connection of one store shares (read-only after open()).
struct ConnectionSettings {
    RedisEndpoint endpoint;
    std::chrono::milliseconds timeout{500};       ///< per call, and per connect attempt
    std::chrono::milliseconds backoff_min{25};    ///< first wait after a failed attempt
    std::chrono::milliseconds backoff_max{1000};  ///< the wait doubles up to this
    std::shared_ptr<boost::asio::ssl::context> tls;  ///< set for rediss://
    Logger log;                                   ///< may be null
};

/// Where a connection is in its life; read from any thread.
enum class ConnectionState { connecting, connected, down, stopped };

class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
public:
    /// Completion of one call: the reply (Redis errors are replies of Type::error) or unavailable.
    using Handler = boost::asio::any_completion_handler<void(Result<RespValue>)>;

    /// Idle until start(). `ex` runs the connection (a strand is made on it). Any thread.
    RedisConnection(boost::asio::any_io_executor ex, std::shared_ptr<const ConnectionSettings> settings,
                    std::size_t index);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    /// Starts connecting (and reconnecting for ever, until stop()). Once; any thread.
    void start();
    /// Closes the socket, fails every queued call with unavailable and stops reconnecting. Any thread;
    /// returns at once (the work happens on the strand).
    void stop();

    /// The current state. Any thread.
    ConnectionState state() const { return state_.load(std::memory_order_acquire); }
    /// Why the last connect attempt or connection failed ("" when none did); no secrets. Any thread.
    std::string last_error() const;

    /// Sends `command` (one or more commands encoded by encode_command, sent back to back so nothing
    /// else is interleaved) and completes with its reply (with an array of the `replies` replies when
    /// `replies` > 1), or with unavailable when the connection is down, is lost before the reply, or
    /// the call outlives the timeout. Any coroutine; it resumes on its own executor.
    boost::asio::awaitable<Result<RespValue>> call(std::string command, std::size_t replies = 1) {
        return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(Result<RespValue>)>(
            [self = shared_from_this()](auto handler, std::string cmd, std::size_t count) {
                boost::asio::any_io_executor caller = boost::asio::get_associated_executor(handler, self->strand_);
                self->submit(std::move(cmd), count, Handler(std::move(handler)), std::move(caller));
            },
            boost::asio::use_awaitable, std::move(command), replies);
    }

private:
    struct Pending {
        std::string command;
        Handler handler;
        std::chrono::steady_clock::time_point deadline;
        std::size_t replies = 1;  ///< replies that make up the answer
        RespValue collected;      ///< the replies so far when more than one
        boost::asio::any_io_executor caller;  ///< where the handler runs
    };
    using Tcp = boost::asio::ip::tcp;
    using TlsStream = boost::asio::ssl::stream<Tcp::socket>;
    /// One connected socket and its decoder. Shared with the operations in flight on it, so a dropped
    /// link stays alive until they have completed.
    struct Link {
        std::unique_ptr<Tcp::socket> socket;  ///< plain TCP (null with TLS)
        std::unique_ptr<TlsStream> tls;       ///< TLS (its next layer is the socket)
        RespReader reader;
        bool closed = false;
        Tcp::socket& lowest() { return tls ? tls->next_layer() : *socket; }
    };

    void submit(std::string command, std::size_t replies, Handler handler, boost::asio::any_io_executor caller);
    // The rest runs on strand_.
    void enqueue(Pending pending);
    void start_write();
    void arm_deadline();
    void on_deadline();
    void fail_all(const std::string& why);
    void close_link();
    void set_state(ConnectionState state);
    void set_error(std::string message);
    Result<RespValue> unavailable(std::string_view why) const;
    static void complete(Pending& pending, Result<RespValue> result);

    boost::asio::awaitable<void> run(std::shared_ptr<RedisConnection> self);
    boost::asio::awaitable<Result<void>> connect_once();
    boost::asio::awaitable<Result<void>> handshake(std::shared_ptr<Link> link);
    boost::asio::awaitable<Result<void>> read_loop(std::shared_ptr<Link> link);
    static boost::asio::awaitable<std::size_t> read_some(Link& link, boost::asio::mutable_buffer buffer,
                                                         boost::system::error_code& ec);

    boost::asio::strand<boost::asio::any_io_executor> strand_;
    std::shared_ptr<const ConnectionSettings> settings_;
    std::size_t index_;
    std::atomic<ConnectionState> state_{ConnectionState::connecting};
    mutable std::mutex error_mutex_;  ///< guards last_error_
    std::string last_error_;

    // strand_ only:
    std::shared_ptr<Link> link_;     ///< the current link (null while none)
    std::deque<Pending> queue_;      ///< calls in order; the first `written_` are on the wire
    std::size_t written_ = 0;
    bool writing_ = false;
    std::string write_buffer_;
    boost::asio::steady_timer deadline_timer_;
    bool deadline_armed_ = false;
    boost::asio::steady_timer connect_timer_;
    std::uint64_t attempt_ = 0;      ///< numbers connect attempts, so a late connect timer is ignored
    bool connect_timed_out_ = false;
    Tcp::resolver resolver_;
    boost::asio::steady_timer backoff_timer_;
    bool stopped_ = false;
    bool reported_down_ = false;     ///< the last state change logged was "down"
};

}  // namespace lt::adapters::redis
