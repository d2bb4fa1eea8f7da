#include "redis_connection.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <exception>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>

#include <spdlog/logger.h>

namespace lt::adapters::redis {

namespace asio = boost::asio;
using boost::system::error_code;
using std::chrono::steady_clock;

namespace {

bool is_ip_address(const std::string& host) {
    error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

RedisConnection::RedisConnection(asio::any_io_executor ex, std::shared_ptr<const ConnectionSettings> settings,
                                 std::size_t index)
    : strand_(asio::make_strand(ex)),
      settings_(std::move(settings)),
      index_(index),
      deadline_timer_(strand_),
      connect_timer_(strand_),
      resolver_(strand_),
      backoff_timer_(strand_) {}

RedisConnection::~RedisConnection() = default;

void RedisConnection::start() {
    asio::co_spawn(strand_, run(shared_from_this()), asio::detached);
}

void RedisConnection::stop() {
    asio::dispatch(strand_, [self = shared_from_this()] {
        self->stopped_ = true;
        self->set_state(ConnectionState::stopped);
        self->backoff_timer_.cancel();
        self->connect_timer_.cancel();
        self->deadline_timer_.cancel();
        self->resolver_.cancel();
        self->close_link();
        self->fail_all("the redis store is closed");
    });
}

std::string RedisConnection::last_error() const {
    std::lock_guard lock(error_mutex_);
    return last_error_;
}

void RedisConnection::set_error(std::string message) {
    std::lock_guard lock(error_mutex_);
    last_error_ = std::move(message);
}

void RedisConnection::set_state(ConnectionState state) {
    if (state_.load(std::memory_order_relaxed) == ConnectionState::stopped) return;
    state_.store(state, std::memory_order_release);
}

Result<RespValue> RedisConnection::unavailable(std::string_view why) const {
    return fail(Errc::unavailable, "redis unavailable: " + std::string(why));
}

void RedisConnection::complete(Pending& pending, Result<RespValue> result) {
    // Always posted: the caller resumes on its own executor and never inside this strand.
    asio::post(pending.caller, [handler = std::move(pending.handler), result = std::move(result)]() mutable {
        std::move(handler)(std::move(result));
    });
}

void RedisConnection::submit(std::string command, std::size_t replies, Handler handler,
                             asio::any_io_executor caller) {
    Pending pending{std::move(command), std::move(handler), steady_clock::now() + settings_->timeout,
                    std::max<std::size_t>(replies, 1), {}, std::move(caller)};
    asio::dispatch(strand_, [self = shared_from_this(), pending = std::move(pending)]() mutable {
        self->enqueue(std::move(pending));
    });
}

void RedisConnection::enqueue(Pending pending) {
    const ConnectionState state = state_.load(std::memory_order_relaxed);
    if (stopped_ || state == ConnectionState::down || state == ConnectionState::stopped) {
        const std::string why = last_error();
        complete(pending, unavailable(why.empty() ? "not connected" : why));
        return;
    }
    queue_.push_back(std::move(pending));
    arm_deadline();
    start_write();
}

void RedisConnection::start_write() {
    if (writing_ || !link_ || link_->closed || state_.load(std::memory_order_relaxed) != ConnectionState::connected ||
        written_ == queue_.size()) {
        return;
    }
    // Everything queued since the last write goes out in one write, in order.
    write_buffer_.clear();
    for (std::size_t i = written_; i < queue_.size(); ++i) {
        write_buffer_ += queue_[i].command;
        std::string().swap(queue_[i].command);
    }
    written_ = queue_.size();
    writing_ = true;
    auto link = link_;
    auto done = asio::bind_executor(strand_, [self = shared_from_this(), link](error_code ec, std::size_t) {
        self->writing_ = false;
        if (ec) {
            if (!link->closed) {
                self->set_error("write failed: " + ec.message());
                self->close_link();  // the read loop sees it and reconnects
            }
            return;
        }
        self->start_write();
    });
    if (link->tls) {
        asio::async_write(*link->tls, asio::buffer(write_buffer_), std::move(done));
    } else {
        asio::async_write(*link->socket, asio::buffer(write_buffer_), std::move(done));
    }
}

void RedisConnection::arm_deadline() {
    if (deadline_armed_ || queue_.empty() || stopped_) return;
    deadline_armed_ = true;
    deadline_timer_.expires_at(queue_.front().deadline);
    deadline_timer_.async_wait(asio::bind_executor(strand_, [self = shared_from_this()](error_code) {
        self->deadline_armed_ = false;
        if (!self->stopped_) self->on_deadline();
    }));
}

void RedisConnection::on_deadline() {
    // Deadlines only grow along the queue: the front's is the next to expire.
    if (queue_.empty()) return;
    if (queue_.front().deadline > steady_clock::now()) {
        arm_deadline();
        return;
    }
    const std::string why = "no reply within " + std::to_string(settings_->timeout.count()) + " ms";
    set_error(why);
    if (state_.load(std::memory_order_relaxed) == ConnectionState::connected) {
        // A reply this late is useless and the link is suspect: drop it (run() reconnects).
        set_state(ConnectionState::connecting);
        close_link();
    }
    fail_all(why);
}

void RedisConnection::fail_all(const std::string& why) {
    std::deque<Pending> failed;
    failed.swap(queue_);
    written_ = 0;
    for (auto& pending : failed) complete(pending, unavailable(why));
}

void RedisConnection::close_link() {
    if (!link_) return;
    link_->closed = true;
    error_code ignored;
    link_->lowest().shutdown(asio::socket_base::shutdown_both, ignored);
    link_->lowest().close(ignored);
    link_.reset();
}

asio::awaitable<std::size_t> RedisConnection::read_some(Link& link, asio::mutable_buffer buffer, error_code& ec) {
    if (link.tls) co_return co_await link.tls->async_read_some(buffer, asio::redirect_error(asio::use_awaitable, ec));
    co_return co_await link.socket->async_read_some(buffer, asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> RedisConnection::run(std::shared_ptr<RedisConnection> self) {
    auto backoff = settings_->backoff_min;
    const auto& log = settings_->log;
    const std::string address = settings_->endpoint.address();
    while (!stopped_) {
        set_state(ConnectionState::connecting);
        Result<void> connected = fail(Errc::internal, "not attempted");
        try {
            connected = co_await connect_once();
        } catch (const std::exception& e) {
            connected = fail(Errc::unavailable, std::string("connect failed: ") + e.what());
        }
        if (stopped_) break;
        if (!connected) {
            set_error(connected.error().message);
            close_link();
            set_state(ConnectionState::down);
            fail_all(connected.error().message);
            if (log && !reported_down_) {
                log->warn("redis unreachable connection={} address={} error={}", index_, address,
                          connected.error().message);
            }
            reported_down_ = true;
            backoff_timer_.expires_after(backoff);
            error_code ignored;
            co_await backoff_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
            backoff = std::min(backoff * 2, settings_->backoff_max);
            continue;
        }
        backoff = settings_->backoff_min;
        set_state(ConnectionState::connected);
        if (log && reported_down_) log->info("redis connected connection={} address={}", index_, address);
        reported_down_ = false;
        start_write();
        arm_deadline();
        Result<void> lost = fail(Errc::internal, "not read");
        try {
            lost = co_await read_loop(link_);
        } catch (const std::exception& e) {
            lost = fail(Errc::unavailable, std::string("read failed: ") + e.what());
        }
        if (stopped_) break;
        set_error(lost.error().message);
        set_state(ConnectionState::connecting);
        close_link();
        fail_all("connection lost: " + lost.error().message);
        if (log) log->warn("redis connection lost connection={} address={} error={}", index_, address,
                           lost.error().message);
        reported_down_ = true;
        // Reconnect at once: a restarted Redis is usually back; failures then back off.
    }
    set_state(ConnectionState::stopped);
    close_link();
    fail_all("the redis store is closed");
}

asio::awaitable<Result<void>> RedisConnection::connect_once() {
    const RedisEndpoint& ep = settings_->endpoint;
    auto link = std::make_shared<Link>();
    link->socket = std::make_unique<Tcp::socket>(strand_);
    link_ = link;
    // One deadline for resolve + connect + TLS + AUTH/SELECT: on expiry the attempt is torn down.
    const std::uint64_t attempt = ++attempt_;
    connect_timed_out_ = false;
    connect_timer_.expires_after(settings_->timeout);
    connect_timer_.async_wait(asio::bind_executor(strand_, [self = shared_from_this(), attempt](error_code ec) {
        if (ec || attempt != self->attempt_ || self->state() != ConnectionState::connecting) return;
        self->connect_timed_out_ = true;
        self->resolver_.cancel();
        self->close_link();
    }));
    auto timeout_error = [this]() -> Result<void> {
        return fail(Errc::unavailable, "connect timed out after " + std::to_string(settings_->timeout.count()) + " ms");
    };

    error_code ec;
    auto endpoints = co_await resolver_.async_resolve(ep.host, std::to_string(ep.port),
                                                      asio::redirect_error(asio::use_awaitable, ec));
    if (connect_timed_out_) co_return timeout_error();
    if (ec) co_return fail(Errc::unavailable, "cannot resolve " + ep.host + ": " + ec.message());
    co_await asio::async_connect(*link->socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (connect_timed_out_ || link->closed) co_return timeout_error();
    if (ec) co_return fail(Errc::unavailable, "cannot connect to " + ep.address() + ": " + ec.message());
    link->socket->set_option(Tcp::no_delay(true), ec);
    link->socket->set_option(asio::socket_base::keep_alive(true), ec);

    if (settings_->tls) {
        link->tls = std::make_unique<TlsStream>(std::move(*link->socket), *settings_->tls);
        link->socket.reset();
        if (!is_ip_address(ep.host)) SSL_set_tlsext_host_name(link->tls->native_handle(), ep.host.c_str());
        link->tls->set_verify_mode(asio::ssl::verify_peer);
        link->tls->set_verify_callback(asio::ssl::host_name_verification(ep.host));
        co_await link->tls->async_handshake(asio::ssl::stream_base::client,
                                            asio::redirect_error(asio::use_awaitable, ec));
        if (connect_timed_out_ || link->closed) co_return timeout_error();
        if (ec) co_return fail(Errc::unavailable, "TLS handshake with " + ep.address() + " failed: " + ec.message());
    }
    auto greeted = co_await handshake(link);
    if (connect_timed_out_ || link->closed) co_return timeout_error();
    connect_timer_.cancel();
    co_return greeted;
}

asio::awaitable<Result<void>> RedisConnection::handshake(std::shared_ptr<Link> link) {
    const RedisEndpoint& ep = settings_->endpoint;
    std::string commands;
    std::vector<std::string> what;
    if (!ep.password.empty()) {
        std::vector<std::string_view> argv{"AUTH"};
        if (!ep.user.empty()) argv.push_back(ep.user);
        argv.push_back(ep.password);
        auto auth = encode_command(argv);
        if (!auth) co_return fail(auth.error());
        commands += *auth;
        what.emplace_back("AUTH");
    }
    if (ep.db != 0) {
        const std::string db = std::to_string(ep.db);
        const std::string_view argv[] = {"SELECT", db};
        auto select = encode_command(argv);
        if (!select) co_return fail(select.error());
        commands += *select;
        what.emplace_back("SELECT " + db);
    }
    if (what.empty()) co_return ok();
    error_code ec;
    if (link->tls) {
        co_await asio::async_write(*link->tls, asio::buffer(commands), asio::redirect_error(asio::use_awaitable, ec));
    } else {
        co_await asio::async_write(*link->socket, asio::buffer(commands), asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) co_return fail(Errc::unavailable, "write failed: " + ec.message());
    std::array<char, 4096> buffer{};
    std::size_t answered = 0;
    while (answered < what.size()) {
        const std::size_t n = co_await read_some(*link, asio::buffer(buffer), ec);
        if (link->closed) co_return fail(Errc::unavailable, "connection closed");
        if (ec) co_return fail(Errc::unavailable, "read failed: " + ec.message());
        if (auto fed = link->reader.feed(buffer.data(), n); !fed) co_return fail(fed.error());
        for (;;) {
            auto reply = link->reader.next();
            if (!reply) co_return fail(reply.error());
            if (!*reply) break;
            if ((*reply)->is_error()) {
                // Redis' error text never contains the password.
                co_return fail(Errc::unavailable, "redis refused " + what[answered] + ": " + (*reply)->text);
            }
            ++answered;
        }
    }
    co_return ok();
}

asio::awaitable<Result<void>> RedisConnection::read_loop(std::shared_ptr<Link> link) {
    std::array<char, 16384> buffer{};
    for (;;) {
        error_code ec;
        const std::size_t n = co_await read_some(*link, asio::buffer(buffer), ec);
        if (link->closed) co_return fail(Errc::unavailable, "connection closed");
        if (ec == asio::error::eof) co_return fail(Errc::unavailable, "redis closed the connection");
        if (ec) co_return fail(Errc::unavailable, "read failed: " + ec.message());
        if (auto fed = link->reader.feed(buffer.data(), n); !fed) co_return fail(fed.error());
        for (;;) {
            auto reply = link->reader.next();
            if (!reply) co_return fail(reply.error());
            if (!*reply) break;
            if (written_ == 0 || queue_.empty()) {
                co_return fail(Errc::internal, "redis sent a reply to no request");
            }
            Pending& front = queue_.front();
            if (front.replies > 1) {
                front.collected.type = RespValue::Type::array;
                front.collected.elements.push_back(std::move(**reply));
                if (front.collected.elements.size() < front.replies) continue;
            } else {
                front.collected = std::move(**reply);
            }
            Pending done = std::move(front);
            queue_.pop_front();
            --written_;
            complete(done, std::move(done.collected));
        }
    }
}

}  // namespace lt::adapters::redis
