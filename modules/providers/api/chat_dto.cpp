// Codecs of the providers module's bus messages (the one place their wire form is written).
#include <boost/json.hpp>

#include "lt/bus/codec.hpp"
#include "lt/core/time.hpp"
#include "lt/providers/providers.hpp"

namespace json = boost::json;
namespace codec = lt::bus::codec;

namespace lt::providers {

bool is_known_provider(std::string_view name) {
    std::string lower = to_lower(name);
    for (auto p : kKnownProviders) {
        if (p == lower) return true;
    }
    return false;
}

void tag_invoke(json::value_from_tag, json::value& v, const ChatRequest& r) {
    v = json::object{{"provider", r.provider}, {"body", r.body}};
}

ChatRequest tag_invoke(json::value_to_tag<ChatRequest>, const json::value& v) {
    const auto& o = codec::object_of(v, "chat request");
    ChatRequest r;
    r.provider = to_lower(codec::required<std::string>(o, "provider"));
    r.body = codec::with_default<json::object>(o, "body", {});
    return r;
}

void tag_invoke(json::value_from_tag, json::value& v, const ChatReply& r) {
    v = json::object{{"response", r.response},
                     {"usage", json::object{{"promptTokens", r.usage.prompt_tokens},
                                            {"completionTokens", r.usage.completion_tokens},
                                            {"totalTokens", r.usage.total_tokens}}}};
}

ChatReply tag_invoke(json::value_to_tag<ChatReply>, const json::value& v) {
    const auto& o = codec::object_of(v, "chat reply");
    ChatReply r;
    r.response = codec::with_default<json::object>(o, "response", {});
    if (const auto* u = codec::field(o, "usage")) {
        const auto& uo = codec::object_of(*u, "usage");
        r.usage = Usage{codec::with_default<std::int64_t>(uo, "promptTokens", 0),
                        codec::with_default<std::int64_t>(uo, "completionTokens", 0),
                        codec::with_default<std::int64_t>(uo, "totalTokens", 0)};
    }
    return r;
}

void tag_invoke(json::value_from_tag, json::value& v, const CompletionRequest& r) {
    json::object o{{"provider", r.provider},
                   {"model", r.model},
                   {"messages", r.messages},
                   {"maxTokens", r.max_tokens},
                   {"stream", r.stream}};
    if (r.user) o["user"] = *r.user;
    if (!r.extra.empty()) o["extra"] = r.extra;
    v = std::move(o);
}

CompletionRequest tag_invoke(json::value_to_tag<CompletionRequest>, const json::value& v) {
    const auto& o = codec::object_of(v, "completion request");
    CompletionRequest r;
    r.provider = to_lower(codec::required<std::string>(o, "provider"));
    r.model = codec::with_default<std::string>(o, "model", "");
    r.messages = codec::with_default<json::array>(o, "messages", {});
    r.max_tokens = codec::with_default<std::int64_t>(o, "maxTokens", 1);
    r.stream = codec::with_default<bool>(o, "stream", false);
    r.user = codec::optional<std::string>(o, "user");
    r.extra = codec::with_default<json::object>(o, "extra", {});
    return r;
}

void tag_invoke(json::value_from_tag, json::value& v, const CompletionChunk& c) {
    v = json::object{{"content", c.content}, {"completionTokens", c.completion_tokens}};
}

CompletionChunk tag_invoke(json::value_to_tag<CompletionChunk>, const json::value& v) {
    const auto& o = codec::object_of(v, "completion chunk");
    return CompletionChunk{codec::with_default<std::string>(o, "content", ""),
                           codec::with_default<std::int64_t>(o, "completionTokens", 0)};
}

void tag_invoke(json::value_from_tag, json::value& v, const CompletionReply& r) {
    json::array chunks;
    for (const auto& c : r.chunks) chunks.push_back(json::value_from(c));
    v = json::object{{"id", r.id},
                     {"created", r.created},
                     {"model", r.model},
                     {"provider", r.provider},
                     {"content", r.content},
                     {"finishReason", r.finish_reason},
                     {"usage", json::object{{"promptTokens", r.prompt_tokens}, {"completionTokens", r.completion_tokens}}},
                     {"chunks", std::move(chunks)},
                     {"chunkDelayMs", r.chunk_delay_ms},
                     {"failAtChunk", r.fail_at_chunk}};
}

CompletionReply tag_invoke(json::value_to_tag<CompletionReply>, const json::value& v) {
    const auto& o = codec::object_of(v, "completion reply");
    CompletionReply r;
    r.id = codec::with_default<std::string>(o, "id", "");
    r.created = codec::with_default<std::int64_t>(o, "created", 0);
    r.model = codec::with_default<std::string>(o, "model", "");
    r.provider = codec::with_default<std::string>(o, "provider", "");
    r.content = codec::with_default<std::string>(o, "content", "");
    r.finish_reason = codec::with_default<std::string>(o, "finishReason", "stop");
    const json::value* usage_value = codec::field(o, "usage");
    if (usage_value == nullptr) throw codec::CodecError("usage is missing");
    const auto& usage = codec::object_of(*usage_value, "usage");
    r.prompt_tokens = codec::with_default<std::int64_t>(usage, "promptTokens", 0);
    r.completion_tokens = codec::with_default<std::int64_t>(usage, "completionTokens", 0);
    r.chunks = codec::with_default<std::vector<CompletionChunk>>(o, "chunks", {});
    r.chunk_delay_ms = codec::with_default<std::int64_t>(o, "chunkDelayMs", 0);
    r.fail_at_chunk = codec::with_default<std::int64_t>(o, "failAtChunk", -1);
    return r;
}

void tag_invoke(json::value_from_tag, json::value& v, const ProviderRouting& r) {
    v = json::object{{"fallback", codec::or_null(r.fallback)}, {"maxCompletionTokens", r.max_completion_tokens}};
}

ProviderRouting tag_invoke(json::value_to_tag<ProviderRouting>, const json::value& v) {
    const auto& o = codec::object_of(v, "provider settings");
    return ProviderRouting{codec::optional<std::string>(o, "fallback"),
                            codec::with_default<std::int64_t>(o, "maxCompletionTokens", 0)};
}

void tag_invoke(json::value_from_tag, json::value& v, const ModelsReply& r) {
    json::object providers;
    for (const auto& [name, models] : r.providers) {
        json::array list;
        for (const auto& m : models) list.emplace_back(m);
        providers[name] = std::move(list);
    }
    json::object settings;
    for (const auto& [name, s] : r.settings) settings[name] = json::value_from(s);
    v = json::object{{"providers", std::move(providers)}, {"settings", std::move(settings)}};
}

ModelsReply tag_invoke(json::value_to_tag<ModelsReply>, const json::value& v) {
    const auto& o = codec::object_of(v, "models reply");
    return ModelsReply{codec::with_default<std::map<std::string, std::vector<std::string>>>(o, "providers", {}),
                       codec::with_default<std::map<std::string, ProviderRouting>>(o, "settings", {})};
}

void tag_invoke(json::value_from_tag, json::value& v, const StreamOpenReply& r) {
    if (!r.stream) {
        v = json::value_from(r.completion);
        return;
    }
    const auto& s = *r.stream;
    v = json::object{{"session", s.session}, {"id", s.id},           {"created", s.created},
                     {"model", s.model},     {"provider", s.provider}, {"idleTimeoutMs", s.idle_timeout_ms}};
}

StreamOpenReply tag_invoke(json::value_to_tag<StreamOpenReply>, const json::value& v) {
    const auto& o = codec::object_of(v, "stream open reply");
    StreamOpenReply r;
    if (codec::field(o, "session") == nullptr) {
        r.completion = json::value_to<CompletionReply>(v);
        return r;
    }
    StreamSession s;
    s.session = codec::required<std::string>(o, "session");
    s.id = codec::with_default<std::string>(o, "id", "");
    s.created = codec::with_default<std::int64_t>(o, "created", 0);
    s.model = codec::with_default<std::string>(o, "model", "");
    s.provider = codec::with_default<std::string>(o, "provider", "");
    s.idle_timeout_ms = codec::with_default<std::int64_t>(o, "idleTimeoutMs", 0);
    r.stream = std::move(s);
    return r;
}

void tag_invoke(json::value_from_tag, json::value& v, const StreamRef& r) { v = json::object{{"session", r.session}}; }

StreamRef tag_invoke(json::value_to_tag<StreamRef>, const json::value& v) {
    const auto& o = codec::object_of(v, "stream session");
    return StreamRef{codec::required<std::string>(o, "session")};
}

void tag_invoke(json::value_from_tag, json::value& v, const StreamDelta& r) {
    v = json::object{{"delta", r.delta}, {"tokens", r.tokens}};
}

StreamDelta tag_invoke(json::value_to_tag<StreamDelta>, const json::value& v) {
    const auto& o = codec::object_of(v, "stream event");
    return StreamDelta{codec::with_default<json::object>(o, "delta", {}), codec::with_default<std::int64_t>(o, "tokens", 0)};
}

void tag_invoke(json::value_from_tag, json::value& v, const StreamBatch& r) {
    json::array events;
    for (const auto& e : r.events) events.push_back(json::value_from(e));
    json::object o{{"events", std::move(events)}, {"done", r.done}};
    if (r.finish_reason) o["finishReason"] = *r.finish_reason;
    if (r.usage) {
        o["usage"] = json::object{{"promptTokens", r.usage->prompt_tokens}, {"completionTokens", r.usage->completion_tokens}};
    }
    if (r.error) o["error"] = *r.error;
    v = std::move(o);
}

StreamBatch tag_invoke(json::value_to_tag<StreamBatch>, const json::value& v) {
    const auto& o = codec::object_of(v, "stream batch");
    StreamBatch r;
    r.events = codec::with_default<std::vector<StreamDelta>>(o, "events", {});
    r.finish_reason = codec::optional<std::string>(o, "finishReason");
    if (const auto* u = codec::field(o, "usage")) {
        const auto& uo = codec::object_of(*u, "usage");
        r.usage = StreamUsage{codec::with_default<std::int64_t>(uo, "promptTokens", 0),
                              codec::with_default<std::int64_t>(uo, "completionTokens", 0)};
    }
    r.done = codec::with_default<bool>(o, "done", false);
    r.error = codec::optional<std::string>(o, "error");
    return r;
}

}  // namespace lt::providers
