// Codecs of the token module's events (the one place their wire form is written).
#include <boost/json.hpp>

#include "lt/bus/codec.hpp"
#include "lt/token/token.hpp"

namespace json = boost::json;
namespace codec = lt::bus::codec;

namespace lt::token {

void tag_invoke(json::value_from_tag, json::value& v, const UsagePayload& m) {
    json::object o{{"userId", m.user_id},        {"orgId", codec::or_null(m.org_id)}, {"provider", m.provider},
                   {"tokens", m.tokens},         {"allowed", m.allowed},             {"outcome", m.outcome}};
    if (m.model) o["model"] = *m.model;
    if (m.prompt_tokens) o["promptTokens"] = *m.prompt_tokens;
    if (m.completion_tokens) o["completionTokens"] = *m.completion_tokens;
    if (m.completeness) o["completeness"] = *m.completeness;
    v = std::move(o);
}

UsagePayload tag_invoke(json::value_to_tag<UsagePayload>, const json::value& v) {
    const auto& o = codec::object_of(v, "payload");
    UsagePayload m;
    m.user_id = codec::required<std::string>(o, "userId");
    m.org_id = codec::optional<std::string>(o, "orgId");
    m.provider = codec::required<std::string>(o, "provider");
    m.tokens = codec::required<std::int64_t>(o, "tokens");
    m.allowed = codec::required<bool>(o, "allowed");
    m.outcome = codec::required<std::string>(o, "outcome");
    m.model = codec::optional<std::string>(o, "model");
    m.prompt_tokens = codec::optional<std::int64_t>(o, "promptTokens");
    m.completion_tokens = codec::optional<std::int64_t>(o, "completionTokens");
    m.completeness = codec::optional<std::string>(o, "completeness");
    return m;
}

void tag_invoke(json::value_from_tag, json::value& v, const PurchasePayload& m) {
    v = json::object{{"event", m.event},
                     {"sagaId", m.saga_id},
                     {"userId", m.user_id},
                     {"orgId", codec::or_null(m.org_id)},
                     {"provider", m.provider},
                     {"tokens", m.tokens},
                     {"idempotencyKey", codec::or_null(m.idempotency_key)},
                     {"status", m.status},
                     {"createdAt", m.created_at},
                     {"updatedAt", m.updated_at}};
}

PurchasePayload tag_invoke(json::value_to_tag<PurchasePayload>, const json::value& v) {
    const auto& o = codec::object_of(v, "payload");
    PurchasePayload m;
    m.event = codec::required<std::string>(o, "event");
    m.saga_id = codec::required<std::string>(o, "sagaId");
    m.user_id = codec::required<std::string>(o, "userId");
    m.org_id = codec::optional<std::string>(o, "orgId");
    m.provider = codec::required<std::string>(o, "provider");
    m.tokens = codec::required<std::int64_t>(o, "tokens");
    m.idempotency_key = codec::optional<std::string>(o, "idempotencyKey");
    m.status = codec::with_default<std::string>(o, "status", "");
    m.created_at = codec::with_default<std::string>(o, "createdAt", "");
    m.updated_at = codec::with_default<std::string>(o, "updatedAt", "");
    return m;
}

}  // namespace lt::token
