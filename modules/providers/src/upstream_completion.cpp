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

UpstreamClient* ProviderService::upstream(const std::string& provider) {
    auto it = upstreams_.find(provider);
    return it == upstreams_.end() ? nullptr : it->second.get();
}

json::object ProviderService::settings() const {
    json::object out;
    for (const auto& [name, s] : config_.providers) {
        out[name] = json::object{{"fallback", s.fallback ? json::value(*s.fallback) : json::value(nullptr)},
                                 {"maxCompletionTokens", s.max_completion_tokens}};
    }
    return out;
}

Result<http::ClientRequest> ProviderService::upstream_request(const ProviderSettings& s, const json::object& request,
                                                              bool stream, const std::string& traceparent) const {
    auto url = parse_upstream_url(s.base_url.value_or(""));
    if (!url) return fail(Errc::unavailable, "provider is not set up");
    json::object body;
    // The caller's other fields (temperature, tools, ...) go upstream untouched.
    if (auto* extra = request.if_contains("extra"); extra && extra->is_object()) body = extra->as_object();
    for (auto key : {"model", "messages"}) {
        if (auto* v = request.if_contains(key)) body[key] = *v;
    }
    body["stream"] = stream;
    if (stream) body["stream_options"] = json::object{{"include_usage", true}};
    if (auto* m = request.if_contains("maxTokens"); m && m->is_int64()) body["max_tokens"] = *m;
    if (auto* u = request.if_contains("user"); u && u->is_string()) body["user"] = *u;
    http::ClientRequest out;
    out.method = "POST";
    out.target = url->base_path + "/chat/completions";
    out.headers = {{"Content-Type", "application/json"},
                   {"Accept", stream ? "text/event-stream" : "application/json"}};
    if (s.api_key) out.headers.push_back({"Authorization", "Bearer " + *s.api_key});
    if (!traceparent.empty()) out.headers.push_back({"traceparent", traceparent});  // W3C trace context
    out.body = json::serialize(body);
    return out;
}

asio::awaitable<Result<json::object>> ProviderService::complete_upstream(const ProviderSettings& s,
                                                                        const std::string& provider,
                                                                        json::object request, bus::Context ctx) {
    auto client = upstreams_.find(provider);
    auto url = parse_upstream_url(s.base_url.value_or(""));
    auto out = upstream_request(s, request, false, ctx.traceparent);
    if (client == upstreams_.end() || !url || !out) co_return fail(Errc::unavailable, "provider " + provider + " is not set up");
    auto timeout = std::min<long long>(s.timeout.count(), std::max<long long>(1, ctx.remaining_ms()));
    UpstreamTimeouts timeouts{s.connect_timeout, s.first_byte_timeout, std::chrono::milliseconds(timeout)};
    auto op = client->second->request(*url, std::move(*out), timeouts);
    auto res = co_await std::move(op);
    if (!res) {
        log_->warn("upstream call failed provider={} error={}", provider, res.error().message);
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
    std::string content;
    std::string finish = "stop";
    if (const auto* c = choice.is_object() ? choice.as_object().if_contains("message") : nullptr; c && c->is_object()) {
        if (auto* t = c->as_object().if_contains("content"); t && t->is_string()) content = std::string(t->as_string());
    }
    if (choice.is_object()) {
        if (auto* f = choice.as_object().if_contains("finish_reason"); f && f->is_string()) finish = std::string(f->as_string());
    }
    auto count = [&](std::string_view key) -> long long {
        auto* v = usage->as_object().if_contains(key);
        return v && v->is_int64() ? v->as_int64() : 0;
    };
    long long completion = count("completion_tokens");
    json::array chunks;
    chunks.push_back(json::object{{"content", content}, {"completionTokens", completion}});
    auto* id = o.if_contains("id");
    auto* created = o.if_contains("created");
    co_return json::object{
        {"id", id && id->is_string() ? *id : json::value("chatcmpl-" + new_uuid())},
        {"created", created && created->is_int64() ? created->as_int64() : unix_seconds(clock_.now())},
        {"model", request["model"]},
        {"provider", provider},
        {"content", content},
        {"finishReason", finish},
        {"usage", json::object{{"promptTokens", count("prompt_tokens")}, {"completionTokens", completion}}},
        {"chunks", std::move(chunks)},
        {"chunkDelayMs", 0},
        {"failAtChunk", -1}};
}

asio::awaitable<Result<json::object>> ProviderService::open_stream(json::object request, bus::Context ctx) {
    std::string provider;
    if (auto* p = request.if_contains("provider"); p && p->is_string()) provider = to_lower(p->as_string());
    auto it = config_.providers.find(provider);
    if (it == config_.providers.end() || it->second.type != ProviderType::openai_compatible) {
        auto op = complete(std::move(request), std::move(ctx));  // stubs simulate the stream in one reply
        co_return co_await std::move(op);
    }
    const auto& s = it->second;
    auto client = upstreams_.find(provider);
    auto url = parse_upstream_url(s.base_url.value_or(""));
    auto out = upstream_request(s, request, true, ctx.traceparent);
    if (client == upstreams_.end() || !url || !out) co_return fail(Errc::unavailable, "provider " + provider + " is not set up");
    // The first byte may take long (a big prompt); the caller's deadline still bounds the wait.
    auto first_byte = std::min<long long>(s.first_byte_timeout.count(), std::max<long long>(1, ctx.remaining_ms()));
    UpstreamTimeouts timeouts{s.connect_timeout, std::chrono::milliseconds(first_byte), s.timeout};
    auto op = client->second->open_stream(*url, std::move(*out), timeouts);
    auto opened = co_await std::move(op);
    if (!opened) {
        log_->warn("upstream stream failed to open provider={} error={}", provider, opened.error().message);
        co_return fail(opened.error());
    }
    if (!opened->stream) co_return fail(upstream_status_error(opened->status, opened->error_body));
    std::string session = sessions_.add(std::move(opened->stream), s.idle_timeout);
    co_return json::object{{"session", session},
                           {"id", "chatcmpl-" + new_uuid()},
                           {"created", unix_seconds(clock_.now())},
                           {"model", request["model"]},
                           {"provider", provider},
                           {"idleTimeoutMs", s.idle_timeout.count()}};
}

}  // namespace lt::providers
