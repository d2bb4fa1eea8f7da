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
    : config_(std::move(config)), client_(client), clock_(clock), log_(std::move(log)) {}

asio::awaitable<Result<ChatReply>> ProviderService::chat(ChatRequest req, bus::Context ctx) {
    auto it = config_.providers.find(req.provider);
    if (it == config_.providers.end()) co_return fail(Errc::invalid_argument, "unknown provider");
    if (ctx.remaining_ms() <= 0) co_return fail(Errc::timeout, "provider call deadline passed");
    auto op = it->second.base_url ? call_upstream(it->second, std::move(req), std::move(ctx))
                                  : call_stub(it->second, std::move(req), std::move(ctx));
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

asio::awaitable<Result<boost::json::object>> ProviderService::complete(boost::json::object request, bus::Context ctx) {
    std::string provider;
    if (auto* p = request.if_contains("provider"); p && p->is_string()) provider = to_lower(p->as_string());
    auto it = config_.providers.find(provider);
    if (it == config_.providers.end()) co_return fail(Errc::invalid_argument, "unknown provider");
    if (ctx.remaining_ms() <= 0) co_return fail(Errc::timeout, "provider call deadline passed");
    if (it->second.type == ProviderType::openai_compatible) {
        auto op = complete_upstream(it->second, provider, std::move(request), std::move(ctx));
        co_return co_await std::move(op);
    }
    if (it->second.base_url) {
        co_return fail(Errc::unavailable, "provider " + provider + " has no OpenAI-compatible upstream");
    }
    auto op = simulate(it->second, ctx);
    if (auto r = co_await std::move(op); !r) co_return fail(r.error());
    co_return stub_completion(it->second, provider, request, clock_.now(), uniform01());
}

Result<void> ProviderService::init() {
    for (const auto& [name, s] : config_.providers) {
        if (s.type != ProviderType::openai_compatible) continue;
        auto url = parse_upstream_url(s.base_url.value_or(""));
        if (!url) return fail(Errc::invalid_argument, "providers." + name + ".base-url: " + url.error().message);
        PoolOptions pool{static_cast<std::size_t>(s.pool_max_idle), s.pool_idle_timeout};
        auto client = UpstreamClient::create(s.ca_file, pool);
        if (!client) return fail(Errc::invalid_argument, "providers." + name + ": " + client.error().message);
        upstreams_[name] = std::move(*client);
    }
    return ok();
}

boost::json::object ProviderService::models() const {
    boost::json::object out;
    for (const auto& [name, s] : config_.providers) {
        boost::json::array list;
        for (const auto& m : s.models) list.push_back(boost::json::string(m));
        out[name] = std::move(list);
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
