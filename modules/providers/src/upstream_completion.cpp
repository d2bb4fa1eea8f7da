// Chat completions answered by an openai-compatible upstream: one call (kCompletion) or a
// stream read batch by batch (kStreamOpen + StreamSessions).
#include <boost/json.hpp>

#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "stub_completion.hpp"
#include "stub_provider.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace lt::providers {

namespace {
/// A refusal by the upstream itself (429) is the caller's to see, never retried; other non-2xx are
/// the provider failing.
Error upstream_status_error(int status, std::string_view body) {
    if (status == 429) {
        std::string message = "the upstream refused the request (429)";
        if (auto parsed = parse_json(body); parsed && parsed->is_object()) {
            const auto* e = parsed->as_object().if_contains("error");
            const auto* m = e && e->is_object() ? e->as_object().if_contains("message") : nullptr;
            if (m && m->is_string()) message += ": " + std::string(m->as_string());
        }
        return Error{Errc::rate_limited, message};
    }
    return Error{Errc::bad_gateway, "provider answered " + std::to_string(status)};
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
}  // namespace

http::ClientRequest ProviderService::upstream_request(const ProviderEntry& p, const CompletionRequest& request,
                                                     bool stream, const std::string& traceparent) const {
    // The caller's other fields (temperature, tools, ...) go upstream untouched.
    json::object body = request.extra;
    body["model"] = request.model;
    body["messages"] = request.messages;
    body["stream"] = stream;
    if (stream) body["stream_options"] = json::object{{"include_usage", true}};
    body["max_tokens"] = request.max_tokens;
    if (request.user) body["user"] = *request.user;
    http::ClientRequest out;
    out.method = "POST";
    out.target = p.url->base_path + "/chat/completions";
    out.headers = {{"Content-Type", "application/json"},
                   {"Accept", stream ? "text/event-stream" : "application/json"}};
    if (p.settings.api_key) out.headers.push_back({"Authorization", "Bearer " + *p.settings.api_key});
    if (!traceparent.empty()) out.headers.push_back({"traceparent", traceparent});  // W3C trace context
    out.body = json::serialize(body);
    return out;
}

asio::awaitable<Result<CompletionReply>> ProviderService::complete_upstream(const ProviderEntry& p,
                                                                            CompletionRequest request,
                                                                            bus::Context ctx) {
    const auto& s = p.settings;
    if (!p.client || !p.url) co_return fail(Errc::unavailable, "provider " + request.provider + " is not set up");
    auto out = upstream_request(p, request, false, ctx.traceparent);
    auto timeout = std::min<long long>(s.timeout.count(), std::max<long long>(1, ctx.remaining_ms()));
    UpstreamTimeouts timeouts{s.connect_timeout, s.first_byte_timeout, std::chrono::milliseconds(timeout)};
    auto op = p.client->request(*p.url, std::move(out), timeouts);
    auto res = co_await std::move(op);
    if (!res) {
        log_->warn("upstream call failed provider={} error={}", request.provider, res.error().message);
        co_return fail(res.error());
    }
    if (res->status < 200 || res->status > 299) co_return fail(upstream_status_error(res->status, res->body));
    auto parsed = parse_json(res->body);
    if (!parsed || !parsed->is_object()) co_return fail(Errc::bad_gateway, "provider answered malformed JSON");
    const auto& o = parsed->as_object();
    const auto* choices = o.if_contains("choices");
    const auto* usage = o.if_contains("usage");
    if (!choices || !choices->is_array() || choices->as_array().empty() || !usage || !usage->is_object()) {
        co_return fail(Errc::bad_gateway, "provider answered without choices or usage");
    }
    const auto& choice = choices->as_array().front();
    CompletionReply reply;
    reply.finish_reason = "stop";
    if (const auto* c = choice.is_object() ? choice.as_object().if_contains("message") : nullptr; c && c->is_object()) {
        if (auto* t = c->as_object().if_contains("content"); t && t->is_string()) reply.content = std::string(t->as_string());
    }
    if (choice.is_object()) {
        if (auto* f = choice.as_object().if_contains("finish_reason"); f && f->is_string()) {
            reply.finish_reason = std::string(f->as_string());
        }
    }
    auto count = [&](std::string_view key) -> std::int64_t {
        auto* v = usage->as_object().if_contains(key);
        return v && v->is_int64() ? v->as_int64() : 0;
    };
    auto* id = o.if_contains("id");
    auto* created = o.if_contains("created");
    reply.id = id && id->is_string() ? std::string(id->as_string()) : "chatcmpl-" + new_uuid();
    reply.created = created && created->is_int64() ? created->as_int64() : unix_seconds(clock_.now());
    reply.model = request.model;
    reply.provider = request.provider;
    reply.prompt_tokens = count("prompt_tokens");
    reply.completion_tokens = count("completion_tokens");
    reply.chunks.push_back(CompletionChunk{reply.content, reply.completion_tokens});
    co_return reply;
}

asio::awaitable<Result<StreamOpenReply>> ProviderService::open_stream(CompletionRequest request, bus::Context ctx) {
    const auto snap = snapshot();  // kept until the stream is open (the session keeps the client)
    request.provider = to_lower(request.provider);
    auto it = snap->providers.find(request.provider);
    if (it == snap->providers.end() || it->second.settings.type != ProviderType::openai_compatible) {
        auto op = complete(std::move(request), std::move(ctx));  // stubs simulate the stream in one reply
        auto simulated = co_await std::move(op);
        if (!simulated) co_return fail(simulated.error());
        co_return StreamOpenReply{std::nullopt, std::move(*simulated)};
    }
    const auto& p = it->second;
    const auto& s = p.settings;
    if (!p.client || !p.url) co_return fail(Errc::unavailable, "provider " + request.provider + " is not set up");
    auto out = upstream_request(p, request, true, ctx.traceparent);
    // The first byte may take long (a big prompt); the caller's deadline still bounds the wait.
    auto first_byte = std::min<long long>(s.first_byte_timeout.count(), std::max<long long>(1, ctx.remaining_ms()));
    UpstreamTimeouts timeouts{s.connect_timeout, std::chrono::milliseconds(first_byte), s.timeout};
    auto op = p.client->open_stream(*p.url, std::move(out), timeouts);
    auto opened = co_await std::move(op);
    if (!opened) {
        log_->warn("upstream stream failed to open provider={} error={}", request.provider, opened.error().message);
        co_return fail(opened.error());
    }
    if (!opened->stream) co_return fail(upstream_status_error(opened->status, opened->error_body));
    StreamSession session;
    session.session = sessions_.add(std::move(opened->stream), s.idle_timeout);
    session.id = "chatcmpl-" + new_uuid();
    session.created = unix_seconds(clock_.now());
    session.model = request.model;
    session.provider = request.provider;
    session.idle_timeout_ms = s.idle_timeout.count();
    StreamOpenReply reply;
    reply.stream = std::move(session);
    co_return reply;
}

}  // namespace lt::providers
