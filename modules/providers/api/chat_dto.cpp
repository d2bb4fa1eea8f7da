#include <boost/json.hpp>

#include "lt/core/time.hpp"
#include "lt/providers/providers.hpp"

namespace lt::providers {

bool is_known_provider(std::string_view name) {
    std::string lower = to_lower(name);
    for (auto p : kKnownProviders) {
        if (p == lower) return true;
    }
    return false;
}

boost::json::value to_json(const ChatRequest& r) {
    return boost::json::object{{"provider", r.provider}, {"body", r.body}};
}

Result<ChatRequest> chat_request_from_json(const boost::json::value& v) {
    if (!v.is_object()) return fail(Errc::invalid_argument, "chat request must be an object");
    const auto& o = v.as_object();
    ChatRequest r;
    auto* p = o.if_contains("provider");
    if (!p || !p->is_string()) return fail(Errc::invalid_argument, "provider is required");
    r.provider = to_lower(p->as_string());
    if (auto* b = o.if_contains("body"); b && b->is_object()) r.body = b->as_object();
    return r;
}

boost::json::value to_json(const ChatReply& r) {
    return boost::json::object{{"response", r.response},
                               {"usage", boost::json::object{{"promptTokens", r.usage.prompt_tokens},
                                                             {"completionTokens", r.usage.completion_tokens},
                                                             {"totalTokens", r.usage.total_tokens}}}};
}

Result<ChatReply> chat_reply_from_json(const boost::json::value& v) {
    if (!v.is_object()) return fail(Errc::bad_gateway, "chat reply must be an object");
    const auto& o = v.as_object();
    ChatReply r;
    if (auto* resp = o.if_contains("response"); resp && resp->is_object()) r.response = resp->as_object();
    if (auto* u = o.if_contains("usage"); u && u->is_object()) {
        auto num = [&](std::string_view k) -> long long {
            auto* x = u->as_object().if_contains(k);
            return x && x->is_int64() ? x->as_int64() : 0;
        };
        r.usage = Usage{num("promptTokens"), num("completionTokens"), num("totalTokens")};
    }
    return r;
}

}  // namespace lt::providers
