#include "chat_stream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>


namespace asio = boost::asio;
namespace json = boost::json;

namespace lt::token {

namespace {

asio::awaitable<void> pause(std::chrono::milliseconds d) {
    if (d.count() <= 0) co_return;
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

json::object chunk_json(const StreamJob& job, json::object delta, json::value finish) {
    json::array choices;
    choices.push_back(json::object{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr},
                                   {"finish_reason", std::move(finish)}});
    return json::object{{"id", job.id},       {"object", "chat.completion.chunk"}, {"created", job.created},
                        {"model", job.model}, {"system_fingerprint", nullptr},   {"choices", std::move(choices)}};
}

/// Sends one `data:` event; false when the client is gone.
asio::awaitable<bool> send(http::BodyWriter& out, json::object o) {
    auto line = std::make_shared<std::string>("data: " + json::serialize(o) + "\n\n");
    auto op = out.write(*line);
    co_return co_await std::move(op);
}

json::object error_event(std::string_view message) {
    return json::object{{"error", json::object{{"message", message},
                                               {"type", "server_error"},
                                               {"param", nullptr},
                                               {"code", "upstream_error"}}}};
}

/// The end of a stream the client still reads: finish chunk, usage chunk, [DONE]; or the error event.
asio::awaitable<void> send_trailer(const StreamJob& job, http::BodyWriter& out, Completeness completeness,
                                   const std::string& finish, std::int64_t prompt, std::int64_t completion) {
    if (completeness == Completeness::upstream_error) {
        auto op = send(out, error_event("the provider failed mid-stream"));
        co_await std::move(op);
        co_return;
    }
    {
        auto op = send(out, chunk_json(job, json::object{}, json::value(finish)));
        co_await std::move(op);
    }
    if (job.include_usage) {
        auto o = chunk_json(job, json::object{}, nullptr);
        o["choices"] = json::array{};
        o["usage"] = usage_json(prompt, completion);
        auto op = send(out, o);
        co_await std::move(op);
    }
    auto done = std::make_shared<std::string>("data: [DONE]\n\n");
    auto op = out.write(*done);
    co_await std::move(op);
}

asio::awaitable<void> settle(StreamJob& job, std::int64_t prompt, std::int64_t completion, Completeness completeness) {
    ChatOutcome outcome{job.model, prompt, completion, completeness, false};
    auto op = job.metering->settle(std::move(job.admission), std::move(outcome));
    auto settled = co_await std::move(op);
    if (!settled) job.log->error("chat stream settle failed error={}", settled.error().message);
}

}  // namespace

json::object usage_json(std::int64_t prompt, std::int64_t completion) {
    return json::object{{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

asio::awaitable<void> run_stream(std::shared_ptr<StreamJob> job, http::BodyWriter& out) {
    const std::int64_t limit = job->admission.completion_limit();
    const auto& reply = job->reply;
    const std::int64_t prompt = reply.prompt_tokens;
    std::int64_t produced = 0;
    Completeness completeness = Completeness::complete;
    std::string finish = reply.finish_reason.empty() ? std::string("stop") : reply.finish_reason;
    auto first = send(out, chunk_json(*job, json::object{{"role", "assistant"}, {"content", ""}}, nullptr));
    bool connected = co_await std::move(first);
    const std::chrono::milliseconds delay{reply.chunk_delay_ms};
    if (connected) {
        std::int64_t index = 0;
        for (const auto& chunk : reply.chunks) {
            co_await pause(delay);
            if (index++ == reply.fail_at_chunk) {
                completeness = Completeness::upstream_error;
                break;
            }
            if (produced + chunk.completion_tokens > limit) {  // never past the reservation
                completeness = Completeness::cut_off;
                finish = "length";
                break;
            }
            produced += chunk.completion_tokens;  // produced by the upstream: charged even if the client is gone
            auto op = send(out, chunk_json(*job, json::object{{"content", chunk.content}}, nullptr));
            if (!co_await std::move(op)) {
                connected = false;
                break;
            }
        }
    }
    if (!connected) {
        completeness = Completeness::client_disconnected;
    } else {
        if (finish == "length" && completeness == Completeness::complete) completeness = Completeness::cut_off;
        auto op = send_trailer(*job, out, completeness, finish, prompt, produced);
        co_await std::move(op);
    }
    auto op = settle(*job, prompt, produced, completeness);
    co_await std::move(op);
}

asio::awaitable<void> run_live_stream(std::shared_ptr<StreamJob> job, http::BodyWriter& out) {
    const std::int64_t limit = job->admission.completion_limit();
    const std::int64_t held = job->admission.held;
    std::int64_t counted = 0;
    std::optional<std::pair<std::int64_t, std::int64_t>> reported;  // (prompt, completion) of the upstream
    std::string finish = "stop";
    bool cut = false, failed = false, ended = false;
    auto first = send(out, chunk_json(*job, json::object{{"role", "assistant"}, {"content", ""}}, nullptr));
    bool connected = co_await std::move(first);
    while (!cut && !failed && !ended) {
        auto op = job->caller->stream_next(job->session, job->idle, job->ctx);
        auto batch = co_await std::move(op);
        if (!batch) {
            failed = true;
            break;
        }
        for (auto& ev : batch->events) {
            if (counted + ev.tokens > limit) {  // the upstream produces past the reservation: stop it
                cut = true;
                break;
            }
            counted += ev.tokens;
            if (!connected) continue;  // still read to the end for the usage
            auto send_op = send(out, chunk_json(*job, std::move(ev.delta), nullptr));
            connected = co_await std::move(send_op);
        }
        if (batch->usage) reported = std::pair{batch->usage->prompt_tokens, batch->usage->completion_tokens};
        if (batch->finish_reason && !batch->finish_reason->empty()) finish = *batch->finish_reason;
        if (batch->error) failed = true;
        if (batch->done) ended = true;
    }
    if (!ended) {
        auto close = job->caller->stream_close(job->session, job->ctx);
        co_await std::move(close);
    }
    if (ended || failed) job->caller->record_stream(job->provider, ended && !failed);

    Completeness completeness = Completeness::complete;
    std::int64_t prompt = job->prompt_estimate;
    std::int64_t completion = counted;
    if (reported && !cut) {
        prompt = reported->first;
        completion = reported->second;
    }
    if (completion > limit) cut = true;  // reported past the limit: charged up to the reservation only
    if (!connected) completeness = Completeness::client_disconnected;
    else if (failed) completeness = Completeness::upstream_error;
    else if (cut || finish == "length") completeness = Completeness::cut_off;
    if (ended && !reported && !failed) {
        job->log->warn("upstream stream ended without usage provider={}; charging the estimate", job->provider);
    }
    // What is charged (never past the reservation) is what the usage chunk says.
    prompt = std::min(prompt, held);
    completion = std::min(completion, held - prompt);
    if (cut) finish = "length";
    if (connected) {
        auto op = send_trailer(*job, out, completeness, finish, prompt, completion);
        co_await std::move(op);
    }
    auto op = settle(*job, prompt, completion, completeness);
    co_await std::move(op);
}

}  // namespace lt::token
