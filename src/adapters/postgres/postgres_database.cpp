#include "lt/adapters/postgres_database.hpp"

#include <algorithm>
#include <exception>
#include <future>
#include <random>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "postgres_connection.hpp"

namespace lt::adapters {

using lt::ports::SqlSession;
using Clock = std::chrono::steady_clock;

namespace {

/// The database whose connection thread is the current thread (to refuse nested transact_sync).
thread_local const PostgresDatabase* t_worker_of = nullptr;

/// `base` scaled by a random factor in [0.5, 1.5): spreads retries and reconnections of many threads.
std::chrono::milliseconds jittered(std::chrono::milliseconds base) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_int_distribution<long long> pct(50, 149);
    return std::chrono::milliseconds(std::max<long long>(1, base.count() * pct(rng) / 100));
}

}  // namespace

lt::Result<std::unique_ptr<PostgresDatabase>> PostgresDatabase::open(std::string url, std::size_t pool_size,
                                                                     PostgresOptions opts) {
    if (pool_size == 0) return fail(Errc::invalid_argument, "the PostgreSQL pool size must be at least 1");
    if (opts.max_attempts < 1) opts.max_attempts = 1;
    try {
        auto first = PostgresConnection::connect(url, opts);
        if (!first) return fail(first.error());
        std::unique_ptr<PostgresDatabase> db(new PostgresDatabase(std::move(url), opts));
        for (std::size_t i = 0; i < pool_size; ++i) db->slots_.push_back(std::make_unique<Slot>());
        db->slots_[0]->conn = std::move(*first);
        db->connected_ = 1;
        for (auto& slot : db->slots_) {
            Slot* s = slot.get();
            PostgresDatabase* self = db.get();
            s->thread = std::thread([self, s] { self->worker(*s); });
        }
        return db;
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("cannot open the PostgreSQL database: ") + e.what());
    }
}

PostgresDatabase::PostgresDatabase(std::string url, PostgresOptions opts) : url_(std::move(url)), opts_(opts) {}

PostgresDatabase::~PostgresDatabase() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    work_.notify_all();
    reconnect_.notify_all();
    for (auto& slot : slots_) slot->returned.notify_all();
    for (auto& slot : slots_) {
        if (slot->thread.joinable()) slot->thread.join();
    }
}

std::string_view PostgresDatabase::dialect() const { return "postgres"; }

bool PostgresDatabase::available() const { return available_.load(std::memory_order_relaxed); }

void PostgresDatabase::enqueue(Job job) {
    {
        std::unique_lock lock(mutex_);
        if (!stopping_) {
            queue_.push_back(std::move(job));
            const bool none_connected = connected_ == 0;
            lock.unlock();
            // One idle connection thread runs it; with no connection left, the threads without one
            // answer it (fast Errc::unavailable, or after reconnecting).
            if (none_connected) {
                reconnect_.notify_all();
            } else {
                work_.notify_one();
            }
            return;
        }
    }
    job.done(fail(Errc::unavailable, "the database is closing"));
}

boost::asio::awaitable<lt::Result<void>> PostgresDatabase::transact(std::function<lt::Result<void>(SqlSession&)> fn) {
    const auto deadline = Clock::now() + opts_.queue_timeout;
    auto op = boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(lt::Result<void>)>(
        [this, deadline](auto handler, std::function<lt::Result<void>(SqlSession&)> body) {
            auto ex = boost::asio::get_associated_executor(handler);
            auto shared = std::make_shared<decltype(handler)>(std::move(handler));
            auto done = [shared, ex](lt::Result<void> r) {
                // Resume the awaiting coroutine on its own executor, never on the connection thread.
                boost::asio::post(ex, [shared, r = std::move(r)]() mutable { std::move(*shared)(std::move(r)); });
            };
            enqueue(Job{std::move(body), std::move(done), deadline});
        },
        boost::asio::use_awaitable, std::move(fn));
    co_return co_await std::move(op);
}

lt::Result<void> PostgresDatabase::transact_sync(std::function<lt::Result<void>(SqlSession&)> fn) {
    if (!fn) return fail(Errc::invalid_argument, "transaction body is empty");
    if (t_worker_of == this) {
        return fail(Errc::internal, "nested transaction on the same PostgreSQL database (would deadlock)");
    }
    if (Slot* slot = borrow()) {
        // Run here: the caller blocks either way, and this saves two thread hand-offs per transaction.
        Job job{std::move(fn), {}, Clock::now() + opts_.queue_timeout};
        const PostgresDatabase* outer = t_worker_of;
        t_worker_of = this;  // a nested transact_sync() from the body fails instead of deadlocking
        lt::Result<void> r = fail(Errc::internal, "transaction not run");
        try {
            r = run_job(*slot, job);
        } catch (const std::exception& e) {
            r = fail(Errc::internal, std::string("postgres transaction failed: ") + e.what());
        }
        t_worker_of = outer;
        give_back(*slot);
        return r;
    }
    std::promise<lt::Result<void>> promise;
    auto future = promise.get_future();
    enqueue(Job{std::move(fn), [&promise](lt::Result<void> r) { promise.set_value(std::move(r)); },
                Clock::now() + opts_.queue_timeout});
    return future.get();
}

PostgresDatabase::Slot* PostgresDatabase::borrow() {
    std::lock_guard lock(mutex_);
    if (stopping_) return nullptr;
    for (auto& slot : slots_) {
        if (slot->conn && !slot->busy && !slot->borrowed) {
            slot->borrowed = true;
            return slot.get();
        }
    }
    return nullptr;
}

void PostgresDatabase::give_back(Slot& slot) {
    {
        std::lock_guard lock(mutex_);
        slot.borrowed = false;
    }
    slot.returned.notify_one();
}

lt::Result<void> PostgresDatabase::execute_script(SqlSession& session, std::string_view script) {
    auto* own = dynamic_cast<PostgresSession*>(&session);
    if (!own || own->owner() != this) {
        return fail(Errc::invalid_argument, "execute_script() needs a session of this PostgreSQL database");
    }
    try {
        auto r = own->connection().execute_script(script);
        if (r && !own->connection().in_transaction()) {
            return fail(Errc::invalid_argument, "a script must not end its transaction (COMMIT/ROLLBACK)");
        }
        return r;
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("postgres script failed: ") + e.what());
    }
}

bool PostgresDatabase::connect(Slot& slot) {
    auto c = PostgresConnection::connect(url_, opts_);
    std::lock_guard lock(mutex_);
    if (c) {
        slot.conn = std::move(*c);
        slot.backoff = std::chrono::milliseconds(0);
        ++connected_;
        available_ = true;
        return true;
    }
    slot.last_error = c.error().message;
    slot.backoff = slot.backoff.count() == 0 ? opts_.reconnect_min : std::min(slot.backoff * 2, opts_.reconnect_max);
    slot.next_attempt = Clock::now() + jittered(slot.backoff);
    available_ = false;
    return false;
}

void PostgresDatabase::drop(Slot& slot, std::string why) {
    {
        std::lock_guard lock(mutex_);
        slot.conn.reset();
        slot.last_error = std::move(why);
        slot.next_attempt = Clock::now();  // the first reconnection is immediate, later ones back off
        if (connected_ > 0) --connected_;
        available_ = false;
    }
    reconnect_.notify_all();  // threads without a connection may now have to answer queued work
}

void PostgresDatabase::worker(Slot& slot) {
    t_worker_of = this;
    constexpr auto kIdleCheck = std::chrono::seconds(1);
    for (;;) {
        std::optional<Job> job;
        bool reconnect = false;
        bool check_idle = false;
        {
            std::unique_lock lock(mutex_);
            for (;;) {
                if (slot.borrowed) {
                    // A transact_sync() caller runs on this connection. A notify_one() meant for a free
                    // connection may have woken this thread: pass it on, then wait for the slot back.
                    if (!queue_.empty()) work_.notify_one();
                    slot.returned.wait(lock);
                    continue;
                }
                // A thread without a connection takes work only when no connection is left: then it
                // answers fast (Errc::unavailable) or reconnects, instead of failing work another
                // thread could run.
                if (!queue_.empty() && (slot.conn || connected_ == 0)) {
                    job.emplace(std::move(queue_.front()));
                    queue_.pop_front();
                    break;
                }
                if (stopping_ && queue_.empty()) return;
                if (!slot.conn && Clock::now() >= slot.next_attempt) {
                    reconnect = true;
                    break;
                }
                if (slot.conn) {
                    // A borrower may have dropped the connection meanwhile: check only one still held.
                    if (work_.wait_for(lock, kIdleCheck) == std::cv_status::timeout && !slot.borrowed && slot.conn) {
                        check_idle = true;
                        break;
                    }
                } else {
                    reconnect_.wait_until(lock, slot.next_attempt);
                }
            }
            slot.busy = true;  // not borrowable until this thread is done with it
        }
        struct Idle {
            PostgresDatabase& db;
            Slot& slot;
            ~Idle() {
                std::lock_guard lock(db.mutex_);
                slot.busy = false;
            }
        } idle{*this, slot};
        if (reconnect) {
            (void)connect(slot);
            continue;
        }
        if (check_idle) {
            // A server restart or pg_terminate_backend closes idle connections: notice it now, so
            // that available() turns false and the connection is replaced before work needs it.
            if (slot.conn->idle_broken()) drop(slot, "the connection was closed by the server");
            continue;
        }
        lt::Result<void> r = run_job(slot, *job);
        job->done(std::move(r));
    }
}

lt::Result<void> PostgresDatabase::run_job(Slot& slot, Job& job) {
    if (Clock::now() > job.deadline) {
        return fail(Errc::unavailable, "no database connection became free within " +
                                           std::to_string(opts_.queue_timeout.count()) + " ms");
    }
    for (int attempt = 1;; ++attempt) {
        if (!slot.conn) {
            if (Clock::now() < slot.next_attempt || !connect(slot)) {
                return fail(Errc::unavailable, "database unavailable: " + slot.last_error);
            }
        }
        lt::Error error;
        const TxOutcome outcome = slot.conn->run_transaction(job.fn, this, error);
        switch (outcome) {
            case TxOutcome::committed: available_ = true; return ok();
            case TxOutcome::failed: return fail(std::move(error));
            case TxOutcome::lost_in_commit:
                drop(slot, error.message);
                return fail(Errc::unavailable,
                            "the database connection was lost during COMMIT: the transaction may or may not "
                            "have been applied");
            case TxOutcome::lost_before_commit: drop(slot, error.message); break;
            case TxOutcome::retry: break;
        }
        if (attempt >= opts_.max_attempts) {
            return fail(Errc::unavailable, "transaction abandoned after " + std::to_string(attempt) +
                                               " attempts: " + error.message);
        }
        if (outcome == TxOutcome::retry) {
            const auto pause = std::chrono::milliseconds(std::min(50, 1 << std::min(attempt, 6)));
            std::this_thread::sleep_for(jittered(pause));
        }
    }
}

}  // namespace lt::adapters
