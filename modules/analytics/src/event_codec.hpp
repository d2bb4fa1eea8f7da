#pragma once
/// Decoding of the event envelopes the analytics module consumes (pure; any thread).
///
/// Envelope: {"eventId": uuid, "eventType": string, "occurredAt": RFC 3339, "payload": {...}}.
/// `token.usage.v1` payload: {"userId", "orgId"|null, "provider", "tokens", "allowed", "outcome"}.
/// `token.purchase.v1` payload: {"event", "sagaId", "userId", "orgId"|null, "provider", "tokens",
/// "idempotencyKey"|null, "status", "createdAt", "updatedAt"}. The event time is `occurredAt`.

#include <string_view>
#include <variant>

#include "lt/core/result.hpp"
#include "lt/ports/usage_store.hpp"

namespace lt::analytics {

using DecodedEvent = std::variant<ports::UsageEvent, ports::PurchaseEvent>;

/// Decodes one message value. Errc::invalid_argument with a reason that names the offending field
/// (never its value) for malformed JSON, a missing or mistyped field, or an unknown eventType.
/// Ids that are UUIDs are lower-cased; the provider is trimmed and lower-cased.
Result<DecodedEvent> decode_event(std::string_view value);

}  // namespace lt::analytics
