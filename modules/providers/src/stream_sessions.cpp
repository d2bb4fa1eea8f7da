#include "stream_sessions.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "lt/core/json.hpp"
#include "lt/core/time.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace lt::providers {

struct StreamSessions::Session {
    std::unique_ptr<UpstreamStream> stream;
    asio::any_io_executor ex;
    std::chrono::milliseconds idle{30000};
    std::chrono::steady_clock::time_point last_used;
    long long reported_completion = 0;
};

namespace {
long long int_of(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v && v->is_int64() ? v->as_int64() : (v && v->is_uint64() ? static_cast<long long>(v->as_uint64()) : 0);
}

/// Closes a session's stream on its executor and lets it go there.
void dispose(std::shared_ptr<StreamSessions::Session> s) {
    if (!s || !s->ex) return;
    auto ex = s->ex;
    asio::post(ex, [s]() mutable {
        if (s->stream) s->stream->close();
        s.reset();
    });
}
}  // namespace

StreamBatch translate_sse(const SseBatch& batch, long long& reported_completion) {
    StreamBatch out;
    out.done = batch.done;
    for (const auto& data : batch.data) {
        if (data == "[DONE]") continue;
        auto parsed = parse_json(data);
        if (!parsed || !parsed->is_object()) {
            out.error = "the upstream sent a malformed chunk";
            break;
        }
        const auto& o = parsed->as_object();
        if (auto* e = o.if_contains("error"); e && !e->is_null()) {
            const auto* m = e->is_object() ? e->as_object().if_contains("message") : nullptr;
            out.error = m && m->is_string() ? std::string(m->as_string()) : std::string("the upstream reported an error");
            break;
        }
        std::optional<long long> running;
        if (auto* u = o.if_contains("usage"); u && u->is_object()) {
            const auto& usage = u->as_object();
            out.usage = StreamUsage{int_of(usage, "prompt_tokens"), int_of(usage, "completion_tokens")};
            running = out.usage->completion_tokens;
        }
        const auto* choices = o.if_contains("choices");
        if (choices && choices->is_array() && !choices->as_array().empty() && choices->as_array()[0].is_object()) {
            const auto& choice = choices->as_array()[0].as_object();
            if (auto* f = choice.if_contains("finish_reason"); f && f->is_string()) out.finish_reason = std::string(f->as_string());
            const auto* d = choice.if_contains("delta");
            json::object whole;
            if (auto* m = choice.if_contains("message"); (!d || !d->is_object()) && m && m->is_object()) {
                // A whole completion (the upstream did not stream): one event with all of it.
                whole = m->as_object();
                d = nullptr;
            }
            if (!whole.empty() || (d && d->is_object())) {
                json::object delta = whole.empty() ? d->as_object() : std::move(whole);
                delta.erase("role");
                bool has_output = false;
                for (const auto& [k, v] : delta) {
                    if (v.is_null()) continue;
                    if (v.is_string() && v.as_string().empty()) continue;
                    has_output = true;
                }
                if (has_output) {
                    // One token per chunk unless the upstream counts them for us (usage in every chunk).
                    long long tokens = running ? std::max(0LL, *running - reported_completion) : 1;
                    out.events.push_back(StreamDelta{std::move(delta), tokens});
                    reported_completion += tokens;
                }
            }
        }
        if (running) reported_completion = std::max(reported_completion, *running);
    }
    return out;
}

StreamSessions::~StreamSessions() {
    std::lock_guard lock(mutex_);
    for (auto& [id, s] : sessions_) dispose(s);
}

std::string StreamSessions::add(std::unique_ptr<UpstreamStream> stream, std::chrono::milliseconds idle) {
    auto s = std::make_shared<Session>();
    s->ex = stream->executor();
    s->stream = std::move(stream);
    s->idle = idle;
    s->last_used = std::chrono::steady_clock::now();
    std::string id = new_uuid();
    std::vector<std::shared_ptr<Session>> abandoned;
    {
        std::lock_guard lock(mutex_);
        auto now = std::chrono::steady_clock::now();
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            if (now - it->second->last_used > 2 * it->second->idle + std::chrono::seconds(60)) {
                abandoned.push_back(it->second);
                it = sessions_.erase(it);
            } else {
                ++it;
            }
        }
        sessions_.emplace(id, std::move(s));
    }
    for (auto& a : abandoned) dispose(a);
    return id;
}

std::shared_ptr<StreamSessions::Session> StreamSessions::take(const std::string& id, bool remove) {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return nullptr;
    auto s = it->second;
    s->last_used = std::chrono::steady_clock::now();
    if (remove) sessions_.erase(it);
    return s;
}

std::size_t StreamSessions::size() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

namespace {
asio::awaitable<Result<StreamBatch>> read_batch(std::shared_ptr<StreamSessions::Session> s) {
    auto op = s->stream->next(s->idle);
    auto batch = co_await std::move(op);
    if (!batch) {
        StreamBatch failed;
        failed.error = batch.error().message;
        co_return failed;
    }
    co_return translate_sse(*batch, s->reported_completion);
}
}  // namespace

asio::awaitable<Result<StreamBatch>> StreamSessions::next(std::string id) {
    auto s = take(id, false);
    if (!s) co_return fail(Errc::not_found, "no such stream session");
    auto op = asio::co_spawn(s->ex, read_batch(s), asio::use_awaitable);
    auto reply = co_await std::move(op);
    if (reply && (reply->done || reply->error)) {
        if (auto ended = take(id, true)) dispose(ended);
    }
    co_return reply;
}

asio::awaitable<void> StreamSessions::close(std::string id) {
    if (auto s = take(id, true)) dispose(s);
    co_return;
}

}  // namespace lt::providers
