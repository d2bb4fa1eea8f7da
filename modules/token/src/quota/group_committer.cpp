#include "quota/group_committer.hpp"

#include <algorithm>
#include <exception>
#include <future>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lt::token {

namespace {

/// A batch without a durable unit: visible at commit, flushed with the next durable commit (see header).
constexpr std::string_view kAsyncCommit = "SET LOCAL synchronous_commit TO off";
/// The same as a query, so that it can go first in a batch's pipeline (no round trip of its own).
constexpr std::string_view kAsyncCommitQuery = "SELECT set_config('synchronous_commit', 'off', true)";

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

/// The session a unit with a lead runs on: its first execute() gets the lead's pipelined result
/// (it must be the lead's statement); everything else goes to the batch's session.
class LeadSession final : public ports::SqlSession {
public:
    LeadSession(ports::SqlSession& inner, std::string_view lead_sql, Result<ports::SqlResult> lead_result)
        : inner_(inner), lead_sql_(lead_sql), lead_result_(std::move(lead_result)) {}
    using SqlSession::execute;
    Result<ports::SqlResult> execute(std::string_view sql, std::span<const ports::SqlValue> params) override {
        if (used_) return inner_.execute(sql, params);
        used_ = true;
        // Anything else than its lead first would run after the lead's effect: fail the batch (the
        // unit then runs again alone, without the pipeline).
        if (sql != lead_sql_) return fail(Errc::internal, "a unit with a lead ran another statement first");
        return std::move(lead_result_);
    }
    std::vector<Result<ports::SqlResult>> execute_pipeline(std::span<const ports::SqlStatement> statements) override {
        if (!used_) {
            used_ = true;
            std::vector<Result<ports::SqlResult>> out;
            out.push_back(fail(Errc::internal, "a unit with a lead ran a pipeline first"));
            return out;
        }
        return inner_.execute_pipeline(statements);
    }

private:
    ports::SqlSession& inner_;
    std::string_view lead_sql_;
    Result<ports::SqlResult> lead_result_;
    bool used_ = false;
};

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
                                 bool durable, std::optional<Lead> lead) {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    queue_.push_back(Item{std::move(work), std::move(waiter), std::move(order_key), durable, std::move(lead)});
    // A busy drainer looks at the queue again before it sleeps: wake it only when it sleeps.
    if (drainer_idle_) wake_.notify_one();
    return true;
}

void GroupCommitter::enqueue(Work work, std::unique_ptr<CommitWaiter> waiter, std::string order_key, bool durable,
                             std::optional<Lead> lead) {
    if (try_enqueue(work, waiter, std::move(order_key), durable, std::move(lead))) return;
    if (waiter) waiter->complete(fail(Errc::unavailable, "group committer stopped"));
}

boost::asio::awaitable<Result<void>> GroupCommitter::submit(Work work, std::string order_key, bool durable,
                                                            std::optional<Lead> lead) {
    return await_commit([this, work = std::move(work), key = std::move(order_key), durable, lead = std::move(lead)](
                            std::unique_ptr<CommitWaiter> waiter) mutable {
        enqueue(std::move(work), std::move(waiter), std::move(key), durable, std::move(lead));
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
        // Not durable: the setting is sent before the first statement, first in the pipeline when the
        // batch starts with one, else on its own.
        bool async_pending = !durable;
        // Each run of two or more consecutive units with a lead sends its leads in one pipeline (one
        // round trip), then runs those units, each getting its lead's result from its first
        // execute(). Units without a lead keep their place: no lead overtakes them.
        std::vector<ports::SqlStatement> statements;
        for (std::size_t i = 0; i < batch.size();) {
            std::size_t end = i;
            while (end < batch.size() && batch[end].lead) ++end;
            if (end - i < 2) {
                if (async_pending) {
                    async_pending = false;
                    if (auto r = db_.execute_script(session, kAsyncCommit); !r) return r;
                }
                if (auto r = run_unit(batch[i].work, session); !r) return r;
                ++i;
                continue;
            }
            statements.clear();
            const std::size_t first = async_pending ? 1 : 0;
            if (async_pending) statements.push_back({kAsyncCommitQuery, {}});
            async_pending = false;
            for (std::size_t k = i; k < end; ++k) {
                statements.push_back({batch[k].lead->sql, std::span<const ports::SqlValue>(batch[k].lead->params)});
            }
            auto results = session.execute_pipeline(statements);
            if (results.size() != statements.size()) {
                return fail(Errc::internal, "pipeline answered the wrong number of statements");
            }
            if (first == 1 && !results[0]) return fail(results[0].error());
            pipelines_.fetch_add(1, std::memory_order_relaxed);
            for (std::size_t k = i; k < end; ++k) {
                LeadSession lead_session(session, batch[k].lead->sql, std::move(results[first + k - i]));
                if (auto r = run_unit(batch[k].work, lead_session); !r) return r;
            }
            i = end;
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
