// The OpenAI-compatible API (CONTRACT 37-39): GET /v1/models and POST /v1/chat/completions, streamed
// as server-sent events, metered exactly by ChatMetering.
#include <algorithm>
#include <memory>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "chat_metering.hpp"
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

/// Completion limit when the caller gives none (max_tokens / max_completion_tokens).
constexpr std::int64_t kDefaultCompletionLimit = 4096;

std::int64_t int_field(const json::object& o, std::string_view key, std::int64_t fallback) {
    auto* v = o.if_contains(key);
    if (!v) return fallback;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(std::min<std::uint64_t>(v->as_uint64(), INT64_MAX));
    return fallback;
}

std::string str_field(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

/// A positive integer field, absent/null → nullopt; anything else → error message.
Result<std::optional<std::int64_t>> limit_field(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::optional<std::int64_t>();
    if ((v->is_int64() && v->as_int64() > 0) || v->is_uint64()) return std::optional<std::int64_t>(int_field(o, key, 1));
    return fail(Errc::invalid_argument, std::string(key) + " must be a positive integer");
}

http::Response invalid(std::string_view message, std::string_view param) {
    return http::openai_error(400, message, "invalid_value", "invalid_request_error", param);
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
    if (d.count() <= 0) co_return;
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

json::object usage_json(std::int64_t prompt, std::int64_t completion) {
    return json::object{{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

/// Everything a streamed completion needs after the handler returned.
struct StreamJob {
    ChatMetering* metering = nullptr;
    Logger log;
    ChatAdmission admission;
    json::object reply;  ///< the provider's kCompletionCommand reply
    std::string id;
    std::string model;   ///< as the caller wrote it
    std::int64_t created = 0;
    bool include_usage = false;
};

json::object chunk_json(const StreamJob& job, json::object delta, json::value finish) {
    json::array choices;
    choices.push_back(json::object{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr},
                                   {"finish_reason", std::move(finish)}});
    return json::object{{"id", job.id},           {"object", "chat.completion.chunk"}, {"created", job.created},
                        {"model", job.model},     {"system_fingerprint", nullptr},   {"choices", std::move(choices)}};
}

/// Plays the provider's stream to the client as SSE, stopping at the reserved completion tokens, and
/// settles what was produced whatever happens.
asio::awaitable<void> run_stream(std::shared_ptr<StreamJob> job, http::BodyWriter& out) {
    const std::int64_t limit = job->admission.completion_limit();
    std::int64_t prompt = int_field(job->reply.at("usage").as_object(), "promptTokens", 0);
    std::int64_t produced = 0;
    Completeness completeness = Completeness::complete;
    std::string finish = str_field(job->reply, "finishReason");
    if (finish.empty()) finish = "stop";
    auto send = [&out](const json::object& o) {
        auto line = std::make_shared<std::string>("data: " + json::serialize(o) + "\n\n");
        return std::pair{line, out.write(*line)};
    };
    bool connected = true;
    {
        auto [line, op] = send(chunk_json(*job, json::object{{"role", "assistant"}, {"content", ""}}, nullptr));
        connected = co_await std::move(op);
    }
    const auto* chunks = job->reply.if_contains("chunks");
    const std::int64_t fail_at = int_field(job->reply, "failAtChunk", -1);
    const std::chrono::milliseconds delay{int_field(job->reply, "chunkDelayMs", 0)};
    if (connected && chunks && chunks->is_array()) {
        std::int64_t index = 0;
        for (const auto& c : chunks->as_array()) {
            co_await pause(delay);
            if (index++ == fail_at) {
                completeness = Completeness::upstream_error;
                break;
            }
            const auto& chunk = c.as_object();
            std::int64_t tokens = int_field(chunk, "completionTokens", 0);
            if (produced + tokens > limit) {  // never past the reservation
                completeness = Completeness::cut_off;
                finish = "length";
                break;
            }
            produced += tokens;  // produced by the upstream: charged even if the client is gone
            auto [line, op] = send(chunk_json(*job, json::object{{"content", chunk.at("content")}}, nullptr));
            if (!co_await std::move(op)) {
                connected = false;
                break;
            }
        }
    }
    if (!connected) {
        completeness = Completeness::client_disconnected;
    } else if (completeness == Completeness::upstream_error) {
        json::object err{{"error", json::object{{"message", "the provider failed mid-stream"},
                                                {"type", "server_error"},
                                                {"param", nullptr},
                                                {"code", "upstream_error"}}}};
        auto [line, op] = send(err);
        co_await std::move(op);
    } else {
        if (finish == "length") completeness = Completeness::cut_off;
        {
            auto [line, op] = send(chunk_json(*job, json::object{}, json::value(finish)));
            co_await std::move(op);
        }
        if (job->include_usage) {
            auto o = chunk_json(*job, json::object{}, nullptr);
            o["choices"] = json::array{};
            o["usage"] = usage_json(prompt, produced);
            auto [line, op] = send(o);
            co_await std::move(op);
        }
        auto done = std::make_shared<std::string>("data: [DONE]\n\n");
        auto op = out.write(*done);
        co_await std::move(op);
    }
    ChatOutcome outcome{job->model, prompt, produced, completeness, false};
    auto op = job->metering->settle(std::move(job->admission), std::move(outcome));
    auto settled = co_await std::move(op);
    if (!settled) job->log->error("chat stream settle failed error={}", settled.error().message);
}

}  // namespace

asio::awaitable<Result<std::pair<std::string, std::string>>> TokenModule::resolve_model(std::string model,
                                                                                       bus::Context ctx) {
    auto slash = model.find('/');
    if (slash != std::string::npos && providers::is_known_provider(model.substr(0, slash)) && slash + 1 < model.size()) {
        co_return std::pair{to_lower(model.substr(0, slash)), model.substr(slash + 1)};
    }
    auto op = ctx_.bus->call(providers::kModels, bus::Empty{}, std::move(ctx));
    auto reply = co_await std::move(op);
    if (!reply) co_return fail(reply.error());
    for (auto p : providers::kKnownProviders) {
        auto models = reply->providers.find(std::string(p));
        if (models == reply->providers.end()) continue;
        for (const auto& m : models->second) {
            if (m == model) co_return std::pair{std::string(p), model};
        }
    }
    co_return fail(Errc::not_found, "The model `" + model + "` does not exist or you do not have access to it.");
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
    std::string model = str_field(body, "model");
    if (model.empty()) co_return invalid("you must provide a model parameter", "model");
    const auto* messages = body.if_contains("messages");
    if (!messages || !messages->is_array() || messages->as_array().empty()) {
        co_return invalid("messages must be a non-empty array", "messages");
    }
    for (const auto& m : messages->as_array()) {
        const auto* o = m.if_object();
        const auto* role = o ? o->if_contains("role") : nullptr;
        if (!role || !role->is_string()) co_return invalid("each message must be an object with a role", "messages");
    }
    auto max_completion = limit_field(body, "max_completion_tokens");
    if (!max_completion) co_return invalid(max_completion.error().message, "max_completion_tokens");
    auto max_tokens = limit_field(body, "max_tokens");
    if (!max_tokens) co_return invalid(max_tokens.error().message, "max_tokens");
    std::int64_t limit = max_completion->value_or(max_tokens->value_or(kDefaultCompletionLimit));
    bool stream = false;
    if (auto* s = body.if_contains("stream"); s && !s->is_null()) {
        if (!s->is_bool()) co_return invalid("stream must be a boolean", "stream");
        stream = s->as_bool();
    }
    bool include_usage = false;
    if (auto* so = body.if_contains("stream_options"); so && so->is_object()) {
        if (auto* iu = so->as_object().if_contains("include_usage"); iu && iu->is_bool()) include_usage = iu->as_bool();
    }
    std::optional<std::string> org;
    if (auto raw = trim(req.header("X-Org-Id")); !raw.empty()) {
        org = normalize_uuid(raw);
        if (!org) co_return invalid("invalid X-Org-Id", "");
    }

    auto resolve = resolve_model(model, req.ctx);
    auto route = co_await std::move(resolve);
    if (!route) {
        if (route.error().code == Errc::not_found) {
            co_return http::openai_error(404, route.error().message, "model_not_found", "invalid_request_error", "model");
        }
        co_return http::openai_error(503, "token service unavailable", "service_unavailable");
    }
    auto [provider, upstream_model] = std::move(*route);
    if (org) {
        auto access = require_org_access(*org, req);
        if (auto denied = co_await std::move(access)) co_return *denied;
    }

    const auto& user_id = req.ctx.principal->user_id;
    const auto live = config_.live();
    auto tier = resolve_tier(live->tiers, req.ctx.principal->roles);
    if (!org && live->quota_enforcement) {
        auto ensure = ensure_default_pool(PoolKey{OwnerType::user, user_id, provider}, tier.quota_cap);
        co_await std::move(ensure);
    }
    ConsumeInput who{user_id, org, provider, 0, {}};
    const std::int64_t bound = prompt_token_bound(messages->as_array());
    auto admit = chat_->admit(std::move(who), tier, model, bound, limit);
    auto admitted = co_await std::move(admit);
    if (!admitted) {
        const auto& r = admitted.error();
        http::Response res = r.status == 402   ? http::openai_error(402, "insufficient token quota", "insufficient_quota")
                             : r.status == 429 ? http::openai_error(429, "rate limit exceeded", "rate_limit_exceeded")
                                               : http::openai_error(503, "token service unavailable", "service_unavailable");
        if (r.decision) {
            add_rate_headers(res, *r.decision, r.params);
            res.set_header("Retry-After", std::to_string(r.decision->wait_seconds));
        }
        co_return res;
    }
    ChatAdmission admission = std::move(*admitted);

    json::object call{{"model", upstream_model},
                      {"messages", *messages},
                      {"maxTokens", admission.completion_limit()},
                      {"stream", stream}};
    if (auto* u = body.if_contains("user"); u && u->is_string()) call["user"] = *u;
    auto complete = providers_->complete(provider, std::move(call), req.ctx);
    auto reply = co_await std::move(complete);
    if (!reply || !reply->contains("usage") || !reply->at("usage").is_object()) {
        auto decision = admission.decision;
        auto params = admission.params;
        ChatOutcome failed{model, 0, 0, Completeness::upstream_error, true};
        auto settle = chat_->settle(std::move(admission), std::move(failed));
        co_await std::move(settle);
        auto res = http::openai_error(502, "provider call failed", "upstream_error", "server_error");
        add_rate_headers(res, decision, params);
        co_return res;
    }

    auto job = std::make_shared<StreamJob>();
    job->metering = chat_.get();
    job->log = ctx_.log;
    job->id = str_field(*reply, "id");
    job->created = int_field(*reply, "created", 0);
    job->model = model;
    job->include_usage = include_usage;
    const auto decision = admission.decision;
    const auto params = admission.params;
    http::Response res;
    if (stream) {
        job->admission = std::move(admission);
        job->reply = std::move(*reply);
        res.status = 200;
        res.set_header("Content-Type", "text/event-stream");
        res.set_header("Cache-Control", "no-cache");
        res.stream = [job](http::BodyWriter& w) { return run_stream(job, w); };
    } else {
        const auto& usage = reply->at("usage").as_object();
        std::int64_t prompt = int_field(usage, "promptTokens", 0);
        std::int64_t completion = int_field(usage, "completionTokens", 0);
        std::string finish = str_field(*reply, "finishReason");
        if (finish.empty()) finish = "stop";
        ChatOutcome outcome{model, prompt, completion, finish == "length" ? Completeness::cut_off : Completeness::complete,
                            false};
        auto settle = chat_->settle(std::move(admission), std::move(outcome));
        auto charged = co_await std::move(settle);
        if (!charged) {
            ctx_.log->error("chat settle failed request_id={} error={}", req.ctx.request_id, charged.error().message);
            co_return http::openai_error(503, "token service unavailable", "service_unavailable");
        }
        json::array choices;
        choices.push_back(json::object{
            {"index", 0},
            {"message", json::object{{"role", "assistant"}, {"content", reply->at("content")}, {"refusal", nullptr}}},
            {"logprobs", nullptr},
            {"finish_reason", finish}});
        res = http::Response::json(200, json::object{{"id", job->id},
                                                     {"object", "chat.completion"},
                                                     {"created", job->created},
                                                     {"model", model},
                                                     {"system_fingerprint", nullptr},
                                                     {"choices", std::move(choices)},
                                                     {"usage", usage_json(prompt, completion)}});
    }
    res.set_header("X-Leaky-Provider", provider);
    add_rate_headers(res, decision, params);
    co_return res;
}

}  // namespace lt::token
