#include "quota/group_committer.hpp"

#include <algorithm>
#include <exception>
#include <future>
#include <string>
#include <string_view>
#include <vector>

namespace lt::token {

namespace {

/// A batch without a durable unit: visible at commit, flushed with the next durable commit (see header).
constexpr std::string_view kAsyncCommit = "SET LOCAL synchronous_commit TO off";

/// Runs one unit, turning a throw into an error (a unit should not throw; this keeps the drainer alive).
Result<void> run_unit(const GroupCommitter::Work& work, ports::SqlSession& session) {
    try {
        if (!work) return fail(Errc::invalid_argument, "empty unit of work");
        return work(session);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("unit of work threw: ") + e.what());
    } catch (...) {
        return fail(Errc::internal, "unit of work threw");
    }
}

}  // namespace

GroupCommitter::GroupCommitter(ports::SqlDatabase& db, std::size_t max_batch, std::function<void()> after_commit)
    : db_(db),
      max_batch_(max_batch == 0 ? 1 : max_batch),
      async_commit_(db.dialect() == "postgres"),
      after_commit_(std::move(after_commit)) {
    drainer_ = std::thread([this] { drain_loop(); });
}

GroupCommitter::~GroupCommitter() { stop(); }

bool GroupCommitter::try_enqueue(Work& work, std::unique_ptr<CommitWaiter>& waiter, std::string order_key,
                                 bool durable) {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    queue_.push_back(Item{std::move(work), std::move(waiter), std::move(order_key), durable});
    // A busy drainer looks at the queue again before it sleeps: wake it only when it sleeps.
    if (drainer_idle_) wake_.notify_one();
    return true;
}

void GroupCommitter::enqueue(Work work, std::unique_ptr<CommitWaiter> waiter, std::string order_key, bool durable) {
    if (try_enqueue(work, waiter, std::move(order_key), durable)) return;
    if (waiter) waiter->complete(fail(Errc::unavailable, "group committer stopped"));
}

boost::asio::awaitable<Result<void>> GroupCommitter::submit(Work work, std::string order_key, bool durable) {
    return await_commit([this, work = std::move(work), key = std::move(order_key), durable](
                            std::unique_ptr<CommitWaiter> waiter) mutable {
        enqueue(std::move(work), std::move(waiter), std::move(key), durable);
    });
}

Result<void> GroupCommitter::submit_sync(Work work) {
    if (std::this_thread::get_id() == drainer_.get_id()) {
        return fail(Errc::internal, "submit_sync() on the group-commit thread would deadlock");
    }
    std::promise<Result<void>> done;
    auto future = done.get_future();
    enqueue(std::move(work), make_waiter([&done](Result<void> r) { done.set_value(std::move(r)); }));
    return future.get();
}

void GroupCommitter::stop() {
    std::lock_guard join_lock(join_mutex_);
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        wake_.notify_all();
    }
    if (drainer_.joinable()) drainer_.join();
}

std::size_t GroupCommitter::queue_depth() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void GroupCommitter::drain_loop() {
    std::deque<Item> batch;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            drainer_idle_ = true;
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            drainer_idle_ = false;
            if (queue_.empty()) return;  // stopping and drained
            const std::size_t n = std::min(max_batch_, queue_.size());
            for (std::size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        // One global lock order for every batch of every process (see the header); equal keys keep
        // their submission order.
        std::stable_sort(batch.begin(), batch.end(),
                         [](const Item& a, const Item& b) { return a.order_key < b.order_key; });
        run_batch(batch);
        batch.clear();
    }
}

void GroupCommitter::run_batch(std::deque<Item>& batch) {
    transactions_.fetch_add(1, std::memory_order_relaxed);
    bool durable = !async_commit_;
    for (const auto& item : batch) durable = durable || item.durable;
    auto committed = db_.transact_sync([this, &batch, durable](ports::SqlSession& session) -> Result<void> {
        if (!durable) {
            if (auto r = db_.execute_script(session, kAsyncCommit); !r) return r;
        }
        for (auto& item : batch) {
            if (auto r = run_unit(item.work, session); !r) return r;
        }
        return ok();
    });
    if (committed) {
        batches_.fetch_add(1, std::memory_order_relaxed);
        items_.fetch_add(batch.size(), std::memory_order_relaxed);
        if (after_commit_) after_commit_();
        for (auto& item : batch) {
            if (item.waiter) item.waiter->complete(ok());
        }
        return;
    }
    if (batch.size() == 1) {
        failed_items_.fetch_add(1, std::memory_order_relaxed);
        if (batch.front().waiter) batch.front().waiter->complete(std::move(committed));
        return;
    }
    // The batch rolled back as a whole: give every unit its own transaction, in submission order, so
    // the good ones commit and only the bad ones fail.
    fallbacks_.fetch_add(1, std::memory_order_relaxed);
    for (auto& item : batch) {
        transactions_.fetch_add(1, std::memory_order_relaxed);
        const bool async = async_commit_ && !item.durable;
        auto r = db_.transact_sync([this, &item, async](ports::SqlSession& session) -> Result<void> {
            if (async) {
                if (auto s = db_.execute_script(session, kAsyncCommit); !s) return s;
            }
            return run_unit(item.work, session);
        });
        (r ? items_ : failed_items_).fetch_add(1, std::memory_order_relaxed);
        if (r && after_commit_) after_commit_();
        if (item.waiter) item.waiter->complete(std::move(r));
    }
}

}  // namespace lt::token
