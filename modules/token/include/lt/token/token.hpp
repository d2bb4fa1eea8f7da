#pragma once
/// Contract of the token module: quota pools (users, organizations, tiers, reset windows), the rate
/// limiters (leaky bucket, token bucket, fixed window), the consume path and its usage and purchase
/// events (their envelopes are declared here once; analytics includes this header to read them).
/// Public HTTP: /api/v1/tokens/**.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include "lt/bus/bus.hpp"
#include "lt/bus/codec.hpp"

#include "lt/core/config.hpp"
#include "lt/http/route_spec.hpp"
#include "lt/core/module.hpp"
#include "lt/core/result.hpp"

namespace lt::token {

/// Payload of a usage event: one consume (or chat completion) decision.
struct UsagePayload {
    std::string user_id;                 ///< canonical lower-case UUID
    std::optional<std::string> org_id;   ///< when the organization's pool paid
    std::string provider;                ///< lower-case
    std::int64_t tokens = 0;             ///< tokens charged (0 when refused)
    bool allowed = false;
    std::string outcome;                 ///< allowed | rate_limited | quota_insufficient | provider_failure | error
    // Chat completions only:
    std::optional<std::string> model;
    std::optional<std::int64_t> prompt_tokens;
    std::optional<std::int64_t> completion_tokens;
    std::optional<std::string> completeness;  ///< how much of the completion reached the client
    bool operator==(const UsagePayload&) const = default;
};

/// Payload of a purchase saga event: the saga record after one step.
struct PurchasePayload {
    std::string event;                   ///< the step, e.g. PURCHASE_STARTED, TOKENS_ALLOCATED
    std::string saga_id;
    std::string user_id;
    std::optional<std::string> org_id;
    std::string provider;
    std::int64_t tokens = 0;
    std::optional<std::string> idempotency_key;
    std::string status;                  ///< the saga's status after the step
    std::string created_at;              ///< RFC 3339
    std::string updated_at;              ///< RFC 3339
    bool operator==(const PurchasePayload&) const = default;
};

/// The envelope of an event the token module writes to its outbox (and the event log delivers):
/// {"eventId", "eventType", "occurredAt", "payload"}.
template <class Payload>
struct Envelope {
    std::string event_id;     ///< UUID, the consumers' dedupe key
    std::string event_type;   ///< the descriptor's name (kUsage / kPurchase)
    std::string occurred_at;  ///< RFC 3339, the event time
    Payload payload;
    bool operator==(const Envelope&) const = default;
};

using UsageEvent = Envelope<UsagePayload>;
using PurchaseEvent = Envelope<PurchasePayload>;

/// Event: a usage event (event log topic `token.usage.topic`, default `token-usage`). Analytics
/// consumes it.
inline constexpr bus::Event<UsageEvent> kUsage{"token.usage.v1"};
/// Event: a purchase saga step (event log topic `token.purchase.topic`, default
/// `token-purchase-events`). Analytics consumes it.
inline constexpr bus::Event<PurchaseEvent> kPurchase{"token.purchase.v1"};

// Codecs (Boost.JSON; wire names camelCase). Decoders name the offending field ("userId is missing").
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const UsagePayload& m);
UsagePayload tag_invoke(boost::json::value_to_tag<UsagePayload>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const PurchasePayload& m);
PurchasePayload tag_invoke(boost::json::value_to_tag<PurchasePayload>, const boost::json::value& v);

template <class Payload>
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Envelope<Payload>& e) {
    v = boost::json::object{{"eventId", e.event_id},
                            {"eventType", e.event_type},
                            {"occurredAt", e.occurred_at},
                            {"payload", boost::json::value_from(e.payload)}};
}

template <class Payload>
Envelope<Payload> tag_invoke(boost::json::value_to_tag<Envelope<Payload>>, const boost::json::value& v) {
    const auto& o = bus::codec::object_of(v, "value");
    Envelope<Payload> e;
    e.event_id = bus::codec::required<std::string>(o, "eventId");
    e.event_type = bus::codec::required<std::string>(o, "eventType");
    e.occurred_at = bus::codec::required<std::string>(o, "occurredAt");
    const auto* p = o.if_contains("payload");
    if (p == nullptr || !p->is_object()) throw bus::codec::CodecError("payload is not an object");
    e.payload = boost::json::value_to<Payload>(*p);
    return e;
}

/// Public HTTP routes of the token module (the gateway routes, authenticates and proxies by these).
inline constexpr http::RouteSpec kRoutes[] = {
    {"GET", "/api/v1/tokens/status", http::Access::optional, "token-service"},
    {"GET", "/api/v1/tokens/quota", http::Access::required, "token-service"},
    {"PUT", "/api/v1/tokens/quota", http::Access::required, "token-service"},
    {"GET", "/api/v1/tokens/quota/org", http::Access::required, "token-service"},
    {"POST", "/api/v1/tokens/consume", http::Access::required, "token-service"},
    {"POST", "/api/v1/tokens/purchase", http::Access::required, "token-service"},
    {"GET", "/api/v1/tokens/purchase/{sagaId}", http::Access::required, "token-service"},
    {"POST", "/api/v1/tokens/orgs", http::Access::required, "token-service"},
    {"GET", "/api/v1/tokens/orgs/{orgId}/members", http::Access::required, "token-service"},
    {"PUT", "/api/v1/tokens/orgs/{orgId}/members/{userId}", http::Access::required, "token-service"},
    {"DELETE", "/api/v1/tokens/orgs/{orgId}/members/{userId}", http::Access::required, "token-service"},
    {"GET", "/v1/models", http::Access::required, "token-service"},
    {"POST", "/v1/chat/completions", http::Access::required, "token-service"},
};

/// Declares token.* and feature.flags.token-service.* configuration keys.
void describe_config(config::Schema& schema);

/// The module factory. Needs ctx.sql, ctx.kv, ctx.blocking and the providers' bus command.
Result<std::unique_ptr<Module>> make_module(ModuleContext ctx);

}  // namespace lt::token
