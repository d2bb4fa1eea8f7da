#include "stub_provider.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "stub_completion.hpp"

namespace asio = boost::asio;

namespace lt::providers {

namespace {
std::string_view display_name(std::string_view provider) {
    if (provider == "qwen") return "Qwen";
    if (provider == "gemini") return "Gemini";
    if (provider == "openai") return "OpenAI";
    return provider;
}

std::string prompt_text(const boost::json::object& body) {
    if (auto* p = body.if_contains("prompt"); p && p->is_string()) return std::string(p->as_string());
    return boost::json::serialize(body);
}

double uniform01() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    if (d.count() <= 0) co_return;
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}
}  // namespace

Usage usage_for(const boost::json::object& body) {
    std::string text = prompt_text(body);
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    Usage u;
    u.prompt_tokens = std::max<long long>(1, static_cast<long long>((text.size() + 3) / 4));
    u.completion_tokens = 8 + static_cast<long long>(h % 25);
    u.total_tokens = u.prompt_tokens + u.completion_tokens;
    return u;
}

ChatReply stub_reply(std::string_view provider, const boost::json::object& body, std::string id,
                     std::chrono::system_clock::time_point now) {
    ChatReply r;
    r.usage = usage_for(body);
    r.response["id"] = std::move(id);
    r.response["provider"] = provider;
    r.response["received"] = body;
    r.response["created"] = format_rfc3339(now);
    r.response["message"] = "Stubbed " + std::string(display_name(provider)) + " response";
    r.response["usage"] = boost::json::object{{"promptTokens", r.usage.prompt_tokens},
                                              {"completionTokens", r.usage.completion_tokens},
                                              {"totalTokens", r.usage.total_tokens}};
    return r;
}

ProviderService::ProviderService(ProvidersConfig config, http::Client* client, Clock& clock, Logger log)
    : initial_(std::move(config)), client_(client), clock_(clock), log_(std::move(log)) {
    // Until init(): the settings without upstream clients.
    auto first = std::make_shared<ProvidersSnapshot>();
    for (const auto& [name, s] : initial_.providers) first->providers.emplace(name, ProviderEntry{s, std::nullopt, nullptr});
    snapshot_.store(std::move(first));
}

namespace {
bool wants_tls(const ProviderSettings& s) {
    return s.type == ProviderType::openai_compatible && s.base_url && s.base_url->starts_with("https://");
}

/// A client can be kept across a refresh when it would be built the same.
bool same_upstream(const ProviderSettings& a, const ProviderSettings& b) {
    return a.base_url == b.base_url && a.ca_file == b.ca_file && a.pool_max_idle == b.pool_max_idle &&
           a.pool_idle_timeout == b.pool_idle_timeout;
}
}  // namespace

Result<void> ProviderService::init() {
    std::lock_guard lock(apply_mutex_);
    for (const auto& [name, s] : initial_.providers) {
        if (tls_.count(s.ca_file)) continue;
        auto tls = make_upstream_tls(s.ca_file);
        if (!tls) {
            if (wants_tls(s)) return fail(Errc::invalid_argument, "providers." + name + ": " + tls.error().message);
            if (log_) log_->warn("providers.{}: {}", name, tls.error().message);
            continue;
        }
        tls_[s.ca_file] = std::move(*tls);
    }
    if (!tls_.count(std::nullopt)) {
        // The system store, so that a refresh can point any provider at an https upstream.
        if (auto tls = make_upstream_tls(std::nullopt)) tls_[std::nullopt] = std::move(*tls);
    }
    auto built = build(initial_, nullptr);
    if (!built) return fail(built.error());
    snapshot_.store(std::move(*built));
    initial_ = {};
    return ok();
}

Result<std::shared_ptr<const ProvidersSnapshot>> ProviderService::build(const ProvidersConfig& cfg,
                                                                        const ProvidersSnapshot* current) const {
    auto out = std::make_shared<ProvidersSnapshot>();
    for (const auto& [name, s] : cfg.providers) {
        ProviderEntry e{s, std::nullopt, nullptr};
        if (s.type == ProviderType::openai_compatible) {
            auto url = parse_upstream_url(s.base_url.value_or(""));
            if (!url) return fail(Errc::invalid_argument, "providers." + name + ".base-url: " + url.error().message);
            e.url = *url;
            const ProviderEntry* old = nullptr;
            if (current) {
                auto it = current->providers.find(name);
                if (it != current->providers.end() && it->second.client) old = &it->second;
            }
            if (old && same_upstream(old->settings, s)) {
                e.client = old->client;  // the keep-alive pool survives the refresh
            } else {
                std::shared_ptr<UpstreamTls> tls;
                if (url->tls) {
                    auto t = tls_.find(s.ca_file);
                    if (t == tls_.end()) {
                        return fail(Errc::invalid_argument,
                                    "providers." + name + ".ca-file: not loaded at start (a new CA file needs a restart)");
                    }
                    tls = t->second;
                }
                e.client = UpstreamClient::create(std::move(tls), PoolOptions{static_cast<std::size_t>(s.pool_max_idle),
                                                                              s.pool_idle_timeout});
            }
        }
        out->providers.emplace(name, std::move(e));
    }
    return std::shared_ptr<const ProvidersSnapshot>(std::move(out));
}

Result<void> ProviderService::apply(ProvidersConfig next) {
    std::lock_guard lock(apply_mutex_);
    auto current = snapshot_.load();
    auto built = build(next, current.get());
    if (!built) return fail(built.error());
    snapshot_.store(*built);
    for (const auto& [name, e] : current->providers) {
        if (!e.client) continue;
        auto it = (*built)->providers.find(name);
        if (it == (*built)->providers.end() || it->second.client != e.client) {
            e.client->retire();  // its idle connections go now; in-flight ones when they end
            if (log_) log_->info("provider upstream replaced provider={}", name);
        }
    }
    return ok();
}

std::shared_ptr<UpstreamClient> ProviderService::upstream(const std::string& provider) const {
    auto snap = snapshot();
    auto it = snap->providers.find(provider);
    return it == snap->providers.end() ? nullptr : it->second.client;
}

asio::awaitable<Result<ChatReply>> ProviderService::chat(ChatRequest req, bus::Context ctx) {
    const auto snap = snapshot();  // kept to the end of the call
    auto it = snap->providers.find(req.provider);
    if (it == snap->providers.end()) co_return fail(Errc::invalid_argument, "unknown provider");
    if (ctx.remaining_ms() <= 0) co_return fail(Errc::timeout, "provider call deadline passed");
    const auto& s = it->second.settings;
    auto op = s.base_url ? call_upstream(s, std::move(req), std::move(ctx)) : call_stub(s, std::move(req), std::move(ctx));
    co_return co_await std::move(op);
}

asio::awaitable<Result<void>> ProviderService::simulate(const ProviderSettings& s, const bus::Context& ctx) {
    auto delay = s.latency;
    if (s.jitter.count() > 0) {
        delay += std::chrono::milliseconds(static_cast<long long>(uniform01() * static_cast<double>(s.jitter.count())));
    }
    if (s.hang_rate > 0 && uniform01() < s.hang_rate) {
        auto wait = std::min<long long>(s.hang_duration.count(), std::max<long long>(0, ctx.remaining_ms()));
        co_await sleep_for(std::chrono::milliseconds(wait));
        co_return fail(Errc::timeout, "provider did not answer");
    }
    if (delay.count() > 0) {
        if (delay.count() > ctx.remaining_ms()) {
            co_await sleep_for(std::chrono::milliseconds(std::max<long long>(0, ctx.remaining_ms())));
            co_return fail(Errc::timeout, "provider did not answer in time");
        }
        co_await sleep_for(delay);
    }
    if (s.failure_rate > 0 && uniform01() < s.failure_rate) {
        co_return fail(Errc::unavailable, "simulated provider failure");
    }
    co_return ok();
}

asio::awaitable<Result<ChatReply>> ProviderService::call_stub(const ProviderSettings& s, ChatRequest req,
                                                             bus::Context ctx) {
    auto op = simulate(s, ctx);
    if (auto r = co_await std::move(op); !r) co_return fail(r.error());
    co_return stub_reply(req.provider, req.body, new_uuid(), clock_.now());
}

asio::awaitable<Result<CompletionReply>> ProviderService::complete(CompletionRequest request, bus::Context ctx) {
    const auto snap = snapshot();  // kept to the end of the call
    request.provider = to_lower(request.provider);
    auto it = snap->providers.find(request.provider);
    if (it == snap->providers.end()) co_return fail(Errc::invalid_argument, "unknown provider");
    if (ctx.remaining_ms() <= 0) co_return fail(Errc::timeout, "provider call deadline passed");
    const auto& p = it->second;
    if (p.settings.type == ProviderType::openai_compatible) {
        auto op = complete_upstream(p, std::move(request), std::move(ctx));
        co_return co_await std::move(op);
    }
    if (p.settings.base_url) {
        co_return fail(Errc::unavailable, "provider " + request.provider + " has no OpenAI-compatible upstream");
    }
    auto op = simulate(p.settings, ctx);
    if (auto r = co_await std::move(op); !r) co_return fail(r.error());
    co_return stub_completion(p.settings, request, clock_.now(), uniform01());
}

ModelsReply ProviderService::models() const {
    ModelsReply out;
    for (const auto& [name, p] : snapshot()->providers) {
        out.providers[name] = p.settings.models;
        out.settings[name] = ProviderRouting{p.settings.fallback, p.settings.max_completion_tokens};
    }
    return out;
}

asio::awaitable<Result<ChatReply>> ProviderService::call_upstream(const ProviderSettings& s, ChatRequest req,
                                                                 bus::Context ctx) {
    if (!client_) co_return fail(Errc::unavailable, "no HTTP client");
    auto url = http::parse_url(*s.base_url);
    if (!url) co_return fail(Errc::unavailable, "bad base-url for provider " + req.provider);
    http::ClientRequest out;
    out.method = "POST";
    out.target = url->base_path + "/api/v1/" + req.provider + "/chat";
    out.headers = {{"Content-Type", "application/json"}, {"X-Correlation-Id", ctx.correlation_id}};
    if (!ctx.traceparent.empty()) out.headers.push_back({"traceparent", ctx.traceparent});  // W3C trace context
    boost::json::object body;
    auto* prompt = req.body.if_contains("prompt");
    body["prompt"] = prompt ? *prompt : boost::json::value(nullptr);
    out.body = boost::json::serialize(body);
    auto timeout = std::min<long long>(s.timeout.count(), std::max<long long>(1, ctx.remaining_ms()));
    auto op = client_->request(url->host, url->port, std::move(out), std::chrono::milliseconds(timeout));
    auto res = co_await std::move(op);
    if (!res) co_return fail(res.error());
    if (res->status < 200 || res->status > 299) {
        co_return fail(Errc::bad_gateway, "provider answered " + std::to_string(res->status));
    }
    auto parsed = parse_json(res->body.empty() ? std::string_view("{}") : std::string_view(res->body));
    if (!parsed || !parsed->is_object()) co_return fail(Errc::bad_gateway, "provider answered malformed JSON");
    ChatReply reply;
    reply.response = std::move(parsed->as_object());
    reply.usage = usage_for(req.body);
    co_return reply;
}

}  // namespace lt::providers
