#pragma once
/// The request a thread is working for, so log lines and store spans can name it without every call
/// passing a Context (docs/operations.md, "Request ids and trace ids on log lines").
///
/// A connection's coroutines run on a RequestExecutor: it sets the thread's current RequestScope
/// around each resumption (every handler that resumes the coroutine goes through the executor) and
/// restores the previous one after, so interleaved connections on one I/O thread never see each
/// other's scope. The HTTP session fills the scope when a request starts (request id, the server
/// span's traceparent) and clears it when the request ends; a nested span (the gateway's dispatch, a
/// bus command) swaps its own traceparent in for its lifetime (TraceparentSwap). Code that runs on
/// other threads (the SQL pool, the group committer, the outbox relay) has no scope unless a
/// ScopeGuard lends it one. Cost with tracing off: two thread-local stores per resumption.
/// Scopes come from RequestScopePool: one per open connection, reused, never freed.

#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/execution.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>

namespace lt {

/// One request's ids, as the running code sees them. Owned by a connection; reused request after
/// request (its strings keep their capacity).
struct RequestScope {
    std::string request_id;   ///< Context::request_id; "" between requests
    std::string traceparent;  ///< W3C traceparent of the innermost span of the request; "" = not traced

    /// The 32 hex digits of the trace id ("" when not traced).
    std::string_view trace_id() const {
        return traceparent.size() >= 55 ? std::string_view(traceparent).substr(3, 32) : std::string_view();
    }
    /// True when the innermost span is sampled (its children are recorded).
    bool sampled() const { return traceparent.size() >= 55 && (traceparent[54] & 1) == 1; }
    void clear() {
        request_id.clear();
        traceparent.clear();
    }
};

namespace detail {
inline constinit thread_local RequestScope* t_current_request = nullptr;
}

/// The scope of the request this thread runs code for, or null. Any thread.
inline RequestScope* current_request() noexcept { return detail::t_current_request; }

/// Makes `scope` the thread's current one for the guard's lifetime (then restores the previous).
class ScopeGuard {
public:
    explicit ScopeGuard(RequestScope* scope) noexcept : saved_(std::exchange(detail::t_current_request, scope)) {}
    ~ScopeGuard() { detail::t_current_request = saved_; }
    ScopeGuard(const ScopeGuard&) = delete;
    ScopeGuard& operator=(const ScopeGuard&) = delete;

private:
    RequestScope* saved_;
};

/// Puts `traceparent` (a nested span's) into the current scope and puts the previous one back on
/// destruction. Lives in the coroutine frame that owns the span (the scope belongs to the coroutine
/// stack, not the thread). No-op without a current scope or with an unchanged traceparent.
class TraceparentSwap {
public:
    explicit TraceparentSwap(const std::string& traceparent) {
        auto* s = current_request();
        if (!s || s->traceparent == traceparent) return;
        scope_ = s;
        saved_ = std::exchange(s->traceparent, traceparent);
    }
    ~TraceparentSwap() {
        if (scope_) scope_->traceparent = std::move(saved_);
    }
    TraceparentSwap(const TraceparentSwap&) = delete;
    TraceparentSwap& operator=(const TraceparentSwap&) = delete;

private:
    RequestScope* scope_ = nullptr;
    std::string saved_;
};

/// Scopes for connections, from a process-wide free list. A scope is never freed: an executor copy
/// or a handler that outlives its connection still points to valid memory (at worst it names the
/// next connection's request), so executors can hold a plain pointer (copies cost nothing). At most
/// as many scopes exist as connections were ever open at once. Thread-safe.
class RequestScopePool {
public:
    /// A cleared scope for a new connection.
    static RequestScope* acquire() {
        auto& p = instance();
        std::lock_guard lock(p.mutex_);
        if (p.free_.empty()) return new RequestScope();  // never deleted (see above)
        auto* s = p.free_.back();
        p.free_.pop_back();
        return s;
    }
    /// Gives `scope` back once its connection ended (cleared here).
    static void release(RequestScope* scope) {
        if (!scope) return;
        scope->clear();
        auto& p = instance();
        std::lock_guard lock(p.mutex_);
        p.free_.push_back(scope);
    }

private:
    static RequestScopePool& instance() {
        static RequestScopePool pool;
        return pool;
    }
    std::mutex mutex_;  ///< guards free_
    std::vector<RequestScope*> free_;
};

/// An executor adapter: runs every function of `Inner` with `scope` as the thread's current
/// RequestScope. 16 bytes with an io_context executor, so an any_io_executor holds it in place and
/// copies it without allocating or counting references. `scope` comes from RequestScopePool (it
/// must stay valid while any copy of the executor or any of its functions exists). Properties are
/// those of `Inner`.
template <class Inner>
class RequestExecutor {
public:
    RequestExecutor(Inner inner, RequestScope* scope) noexcept : inner_(std::move(inner)), scope_(scope) {}

    template <class Property>
    auto query(const Property& p) const noexcept(noexcept(boost::asio::query(std::declval<const Inner&>(), p)))
        -> decltype(boost::asio::query(std::declval<const Inner&>(), p)) {
        return boost::asio::query(inner_, p);
    }
    template <class Property>
    auto require(const Property& p) const
        -> RequestExecutor<std::decay_t<decltype(boost::asio::require(std::declval<const Inner&>(), p))>> {
        return {boost::asio::require(inner_, p), scope_};
    }
    template <class Property>
    auto prefer(const Property& p) const
        -> RequestExecutor<std::decay_t<decltype(boost::asio::prefer(std::declval<const Inner&>(), p))>> {
        return {boost::asio::prefer(inner_, p), scope_};
    }

    template <class F>
    void execute(F&& f) const {
        inner_.execute([scope = scope_, fn = std::forward<F>(f)]() mutable {
            ScopeGuard guard(scope);
            std::move(fn)();
        });
    }

    const Inner& inner() const noexcept { return inner_; }
    RequestScope* scope() const noexcept { return scope_; }

    friend bool operator==(const RequestExecutor& a, const RequestExecutor& b) noexcept {
        return a.inner_ == b.inner_ && a.scope_ == b.scope_;
    }
    friend bool operator!=(const RequestExecutor& a, const RequestExecutor& b) noexcept { return !(a == b); }

private:
    Inner inner_;
    RequestScope* scope_;
};

}  // namespace lt
