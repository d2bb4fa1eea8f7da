// The OpenAI-compatible API (CONTRACT 37-39): GET /v1/models and POST /v1/chat/completions, streamed
// as server-sent events, metered exactly by ChatMetering.
#include <algorithm>
#include <memory>

#include <boost/json.hpp>

#include "chat_metering.hpp"
#include "chat_stream.hpp"
#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "lt/http/authz.hpp"
#include "lt/http/errors.hpp"
#include "lt/providers/providers.hpp"
#include "token_http.hpp"
#include "token_module.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace lt::token {

namespace {

/// A positive integer field, absent/null → nullopt; anything else → error message.
Result<std::optional<std::int64_t>> limit_field(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::optional<std::int64_t>();
    if ((v->is_int64() && v->as_int64() > 0) || v->is_uint64()) return std::optional<std::int64_t>(v->is_int64() ? v->as_int64() : INT64_MAX);  // uint64: past int64
    return fail(Errc::invalid_argument, std::string(key) + " must be a positive integer");
}

http::Response invalid(std::string_view message, std::string_view param) {
    return http::openai_error(400, message, "invalid_value", "invalid_request_error", param);
}

/// The fields of /v1/chat/completions the gateway itself handles; the rest goes upstream untouched.
bool gateway_field(std::string_view key) {
    for (auto k : {"model", "messages", "max_tokens", "max_completion_tokens", "stream", "stream_options", "user"}) {
        if (key == k) return true;
    }
    return false;
}

/// The models `provider` serves (providers.<p>.models); null when the directory has none for it.
const std::vector<std::string>* models_of(const providers::ModelsReply& directory, const std::string& provider) {
    auto it = directory.providers.find(provider);
    return it == directory.providers.end() ? nullptr : &it->second;
}

/// providers.<p>.max-completion-tokens and .fallback from the directory's settings.
void apply_settings(const providers::ModelsReply& directory, ChatRoute& route) {
    auto it = directory.settings.find(route.provider);
    if (it == directory.settings.end()) return;
    if (it->second.max_completion_tokens > 0) route.default_limit = it->second.max_completion_tokens;
    route.fallback = it->second.fallback;
}

}  // namespace

asio::awaitable<Result<ChatRoute>> TokenModule::resolve_model(std::string model, bus::Context ctx) {
    auto op = ctx_.bus->call(providers::kModels, bus::Empty{}, std::move(ctx));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(reply.error());
    const providers::ModelsReply& directory = *reply;
    ChatRoute route;
    auto slash = model.find('/');
    if (slash != std::string::npos && providers::is_known_provider(model.substr(0, slash)) && slash + 1 < model.size()) {
        route.provider = to_lower(model.substr(0, slash));
        route.upstream_model = model.substr(slash + 1);
    } else {
        for (auto p : providers::kKnownProviders) {
            const auto* models = models_of(directory, std::string(p));
            if (!models || route.provider.size()) continue;
            if (std::find(models->begin(), models->end(), model) != models->end()) {
                route.provider = std::string(p);
                route.upstream_model = model;
            }
        }
        if (route.provider.empty()) {
            co_return fail(Errc::not_found, "The model `" + model + "` does not exist or you do not have access to it.");
        }
    }
    apply_settings(directory, route);
    if (route.fallback) {
        // The fallback serves the same model name when it lists it (or lists none), else its first model.
        ChatRoute fb;
        fb.provider = *route.fallback;
        fb.upstream_model = route.upstream_model;
        if (const auto* models = models_of(directory, fb.provider); models && !models->empty()) {
            if (std::find(models->begin(), models->end(), fb.upstream_model) == models->end()) {
                fb.upstream_model = models->front();
            }
        }
        apply_settings(directory, fb);
        fb.fallback.reset();  // one hop only
        route.next = std::make_shared<ChatRoute>(std::move(fb));
    }
    co_return route;
}

asio::awaitable<http::Response> TokenModule::list_models(http::Request req) {
    auto op = ctx_.bus->call(providers::kModels, bus::Empty{}, req.ctx);
    auto reply = co_await std::move(op);
    if (!reply) co_return http::openai_error(503, "token service unavailable", "service_unavailable");
    json::array data;
    for (auto p : providers::kKnownProviders) {
        auto models = reply->providers.find(std::string(p));
        if (models == reply->providers.end()) continue;
        for (const auto& m : models->second) {
            data.push_back(json::object{{"id", m}, {"object", "model"}, {"created", 0}, {"owned_by", p}});
        }
    }
    co_return http::Response::json(200, json::object{{"object", "list"}, {"data", std::move(data)}});
}

asio::awaitable<http::Response> TokenModule::chat_completions(http::Request req) {
    auto op = chat_completions_inner(std::move(req));
    auto res = co_await std::move(op);
    http::to_openai_error(res);
    co_return res;
}

asio::awaitable<http::Response> TokenModule::chat_completions_inner(http::Request req) {
    if (auto denied = http::require_user_or_admin(req)) co_return *denied;
    auto parsed = parse_json_object(req.body);
    if (!parsed) co_return invalid("We could not parse the JSON body of your request: " + parsed.error().message, "");
    const auto& body = *parsed;
    ChatCall call;
    call.model = get_string(body, "model").value_or("");
    if (call.model.empty()) co_return invalid("you must provide a model parameter", "model");
    const auto* messages = body.if_contains("messages");
    if (!messages || !messages->is_array() || messages->as_array().empty()) {
        co_return invalid("messages must be a non-empty array", "messages");
    }
    for (const auto& m : messages->as_array()) {
        const auto* o = m.if_object();
        const auto* role = o ? o->if_contains("role") : nullptr;
        if (!role || !role->is_string()) co_return invalid("each message must be an object with a role", "messages");
    }
    call.messages = messages->as_array();
    auto max_completion = limit_field(body, "max_completion_tokens");
    if (!max_completion) co_return invalid(max_completion.error().message, "max_completion_tokens");
    auto max_tokens = limit_field(body, "max_tokens");
    if (!max_tokens) co_return invalid(max_tokens.error().message, "max_tokens");
    call.limit = *max_completion ? *max_completion : *max_tokens;
    if (auto* s = body.if_contains("stream"); s && !s->is_null()) {
        if (!s->is_bool()) co_return invalid("stream must be a boolean", "stream");
        call.stream = s->as_bool();
    }
    if (auto* so = body.if_contains("stream_options"); so && so->is_object()) {
        if (auto* iu = so->as_object().if_contains("include_usage"); iu && iu->is_bool()) call.include_usage = iu->as_bool();
    }
    if (auto* u = body.if_contains("user"); u && u->is_string()) call.user = std::string(u->as_string());
    for (const auto& [k, v] : body) {
        if (!gateway_field(k)) call.extra[k] = v;
    }
    if (auto raw = trim(req.header("X-Org-Id")); !raw.empty()) {
        call.org = normalize_uuid(raw);
        if (!call.org) co_return invalid("invalid X-Org-Id", "");
    }

    auto resolve = resolve_model(call.model, req.ctx);
    auto route = co_await std::move(resolve);
    if (!route) {
        if (route.error().code == Errc::not_found) {
            co_return http::openai_error(404, route.error().message, "model_not_found", "invalid_request_error", "model");
        }
        co_return http::openai_error(503, "token service unavailable", "service_unavailable");
    }
    if (call.org) {
        auto access = require_org_access(*call.org, req);
        if (auto denied = co_await std::move(access)) co_return *denied;
    }
    auto first = chat_attempt(call, *route, route->next != nullptr, req);
    auto attempt = co_await std::move(first);
    if (attempt.response) co_return std::move(*attempt.response);
    // The primary failed or the caller's pool for it is empty: its fallback serves.
    auto second = chat_attempt(call, *route->next, false, req);
    auto fallback = co_await std::move(second);
    if (!fallback.response) co_return http::openai_error(502, "provider call failed", "upstream_error", "server_error");
    fallback.response->set_header("X-Leaky-Fallback-From", route->provider);
    co_return std::move(*fallback.response);
}

asio::awaitable<ChatAttempt> TokenModule::chat_attempt(const ChatCall& call, const ChatRoute& route, bool can_fall_back,
                                                       const http::Request& req) {
    const auto& user_id = req.ctx.principal->user_id;
    const auto& provider = route.provider;
    const auto settings = config_.live();
    auto tier = resolve_tier(settings->tiers, req.ctx.principal->roles);
    if (!call.org && settings->quota_enforcement) {
        auto ensure = ensure_default_pool(PoolKey{OwnerType::user, user_id, provider}, tier.quota_cap);
        co_await std::move(ensure);
    }
    ConsumeInput who{user_id, call.org, provider, 0, {}};
    const std::int64_t bound = prompt_token_bound(call.messages);
    const std::int64_t limit = call.limit.value_or(route.default_limit);
    auto admit = chat_->admit(std::move(who), tier, call.model, bound, limit);
    auto admitted = co_await std::move(admit);
    if (!admitted) {
        const auto& r = admitted.error();
        if (r.status == 402 && can_fall_back) co_return ChatAttempt{};
        http::Response res = r.status == 402   ? http::openai_error(402, "insufficient token quota", "insufficient_quota")
                             : r.status == 429 ? http::openai_error(429, "rate limit exceeded", "rate_limit_exceeded")
                                               : http::openai_error(503, "token service unavailable", "service_unavailable");
        if (r.decision) {
            add_rate_headers(res, *r.decision, r.params);
            res.set_header("Retry-After", std::to_string(r.decision->wait_seconds));
        }
        co_return ChatAttempt{std::move(res)};
    }
    ChatAdmission admission = std::move(*admitted);
    const auto decision = admission.decision;
    const auto params = admission.params;

    providers::CompletionRequest upstream;
    upstream.provider = provider;
    upstream.model = route.upstream_model;
    upstream.messages = call.messages;
    upstream.max_tokens = admission.completion_limit();
    upstream.stream = call.stream;
    upstream.user = call.user;
    upstream.extra = call.extra;
    // A stream's open reply, or (not streamed) the completion in the same shape as a simulated stream.
    Result<providers::StreamOpenReply> reply = fail(Errc::internal, "no reply");
    if (call.stream) {
        auto op = providers_->open_stream(std::move(upstream), req.ctx);
        reply = co_await std::move(op);
    } else {
        auto op = providers_->complete(std::move(upstream), req.ctx);
        auto completed = co_await std::move(op);
        if (completed) reply = providers::StreamOpenReply{std::nullopt, std::move(*completed)};
        else reply = fail(completed.error());
    }
    if (!reply) {
        ChatOutcome failed{call.model, 0, 0, Completeness::upstream_error, true};
        auto settle = chat_->settle(std::move(admission), std::move(failed));
        co_await std::move(settle);
        if (reply.error().code == Errc::rate_limited) {
            // The upstream's own 429, passed on: the client can tell it from the gateway's.
            auto res = http::openai_error(429, reply.error().message, "rate_limit_exceeded", "requests");
            res.set_header("X-Leaky-Upstream-Refused", "true");
            res.set_header("X-Leaky-Provider", provider);
            add_rate_headers(res, decision, params);
            co_return ChatAttempt{std::move(res)};
        }
        if (can_fall_back) co_return ChatAttempt{};
        auto res = http::openai_error(502, "provider call failed", "upstream_error", "server_error");
        add_rate_headers(res, decision, params);
        co_return ChatAttempt{std::move(res)};
    }

    auto job = std::make_shared<StreamJob>();
    job->metering = chat_.get();
    job->caller = providers_.get();
    job->log = ctx_.log;
    job->model = call.model;
    job->provider = provider;
    job->include_usage = call.include_usage;
    if (reply->stream) {
        job->id = reply->stream->id;
        job->created = reply->stream->created;
    } else {
        job->id = reply->completion.id;
        job->created = reply->completion.created;
    }
    http::Response res;
    if (call.stream) {
        job->admission = std::move(admission);
        res.status = 200;
        res.set_header("Content-Type", "text/event-stream");
        res.set_header("Cache-Control", "no-cache");
        if (reply->stream) {
            job->session = reply->stream->session;
            job->idle = std::chrono::milliseconds(reply->stream->idle_timeout_ms > 0 ? reply->stream->idle_timeout_ms
                                                                                      : 30000);
            job->prompt_estimate = std::min(prompt_token_estimate(call.messages), bound);
            job->ctx = req.ctx;
            res.stream = [job](http::BodyWriter& w) { return run_live_stream(job, w); };
        } else {
            job->reply = std::move(reply->completion);
            res.stream = [job](http::BodyWriter& w) { return run_stream(job, w); };
        }
    } else {
        const auto& completion = reply->completion;
        const std::int64_t prompt = completion.prompt_tokens;
        const std::int64_t produced = completion.completion_tokens;
        const std::string finish = completion.finish_reason.empty() ? std::string("stop") : completion.finish_reason;
        ChatOutcome outcome{call.model, prompt, produced,
                            finish == "length" ? Completeness::cut_off : Completeness::complete, false};
        auto settle = chat_->settle(std::move(admission), std::move(outcome));
        auto charged = co_await std::move(settle);
        if (!charged) {
            ctx_.log->error("chat settle failed request_id={} error={}", req.ctx.request_id, charged.error().message);
            co_return ChatAttempt{http::openai_error(503, "token service unavailable", "service_unavailable")};
        }
        json::array choices;
        choices.push_back(json::object{
            {"index", 0},
            {"message", json::object{{"role", "assistant"}, {"content", completion.content}, {"refusal", nullptr}}},
            {"logprobs", nullptr},
            {"finish_reason", finish}});
        res = http::Response::json(200, json::object{{"id", job->id},
                                                     {"object", "chat.completion"},
                                                     {"created", job->created},
                                                     {"model", call.model},
                                                     {"system_fingerprint", nullptr},
                                                     {"choices", std::move(choices)},
                                                     {"usage", usage_json(prompt, produced)}});
    }
    res.set_header("X-Leaky-Provider", provider);
    add_rate_headers(res, decision, params);
    co_return ChatAttempt{std::move(res)};
}

}  // namespace lt::token
