#include "event_codec.hpp"

#include <boost/json.hpp>

#include "lt/analytics/analytics.hpp"
#include "lt/core/json.hpp"
#include "lt/core/time.hpp"

namespace lt::analytics {

namespace {

/// Longest id or name accepted from an event (longer values are junk, not data).
constexpr std::size_t kMaxText = 128;

Result<std::string> text(const json::object& o, std::string_view key, bool required = true) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) {
        if (!required) return std::string();
        return fail(Errc::invalid_argument, std::string(key) + " is missing");
    }
    if (!v->is_string()) return fail(Errc::invalid_argument, std::string(key) + " is not a string");
    auto s = trim(v->as_string());
    if (required && s.empty()) return fail(Errc::invalid_argument, std::string(key) + " is empty");
    if (s.size() > kMaxText) return fail(Errc::invalid_argument, std::string(key) + " is too long");
    return s;
}

/// A user/org/saga id: lower-cased when it is a UUID, kept as sent otherwise.
std::string canonical_id(std::string id) {
    auto uuid = normalize_uuid(id);
    return uuid ? *uuid : id;
}

Result<std::optional<std::string>> optional_id(const json::object& o, std::string_view key) {
    auto s = text(o, key, false);
    if (!s) return fail(s.error());
    if (s->empty()) return std::optional<std::string>();
    return std::optional<std::string>(canonical_id(std::move(*s)));
}

Result<std::int64_t> tokens_of(const json::object& o) {
    auto n = get_int(o, "tokens");
    if (!n) return fail(Errc::invalid_argument, "tokens is not an integer");
    if (*n < 0) return fail(Errc::invalid_argument, "tokens is negative");
    return *n;
}

/// userId, orgId, provider and tokens, shared by usage and purchase payloads.
template <class Event>
Result<void> read_owner_fields(const json::object& p, Event& e) {
    auto user = text(p, "userId");
    if (!user) return fail(user.error());
    e.user_id = canonical_id(std::move(*user));
    auto org = optional_id(p, "orgId");
    if (!org) return fail(org.error());
    e.org_id = std::move(*org);
    auto provider = text(p, "provider");
    if (!provider) return fail(provider.error());
    e.provider = to_lower(*provider);
    auto tokens = tokens_of(p);
    if (!tokens) return fail(tokens.error());
    e.tokens = *tokens;
    return ok();
}

Result<ports::UsageEvent> usage_from(const json::object& p) {
    ports::UsageEvent e;
    if (auto r = read_owner_fields(p, e); !r) return fail(r.error());
    const auto* allowed = p.if_contains("allowed");
    if (!allowed || !allowed->is_bool()) return fail(Errc::invalid_argument, "allowed is not a boolean");
    e.allowed = allowed->as_bool();
    auto outcome = text(p, "outcome");
    if (!outcome) return fail(outcome.error());
    e.outcome = std::move(*outcome);
    // Chat completions (/v1/chat/completions) also name the model and how the exchange ended.
    // A model name is the caller's text: a long or odd one is cut, never a reason to drop the event.
    if (const auto* m = p.if_contains("model"); m && m->is_string() && !m->as_string().empty()) {
        e.model = std::string(std::string_view(m->as_string()).substr(0, kMaxText));
        e.prompt_tokens = get_int(p, "promptTokens");
        e.completion_tokens = get_int(p, "completionTokens");
        auto completeness = text(p, "completeness", false);
        if (completeness && !completeness->empty()) e.completeness = std::move(*completeness);
    }
    return e;
}

Result<ports::PurchaseEvent> purchase_from(const json::object& p) {
    ports::PurchaseEvent e;
    auto event = text(p, "event");
    if (!event) return fail(event.error());
    e.event = std::move(*event);
    auto saga = text(p, "sagaId");
    if (!saga) return fail(saga.error());
    e.saga_id = canonical_id(std::move(*saga));
    if (auto r = read_owner_fields(p, e); !r) return fail(r.error());
    auto status = text(p, "status", false);
    if (!status) return fail(status.error());
    e.status = std::move(*status);
    return e;
}

}  // namespace

Result<DecodedEvent> decode_event(std::string_view value) {
    auto parsed = parse_json(value);
    if (!parsed) return fail(Errc::invalid_argument, "value is not JSON");
    const auto* envelope = parsed->if_object();
    if (!envelope) return fail(Errc::invalid_argument, "value is not a JSON object");
    auto id = text(*envelope, "eventId");
    if (!id) return fail(id.error());
    auto event_id = normalize_uuid(*id);
    if (!event_id) return fail(Errc::invalid_argument, "eventId is not a UUID");
    auto type = text(*envelope, "eventType");
    if (!type) return fail(type.error());
    auto when_text = text(*envelope, "occurredAt");
    if (!when_text) return fail(when_text.error());
    auto when = parse_rfc3339(*when_text);
    if (!when) return fail(Errc::invalid_argument, "occurredAt is not an RFC 3339 time");
    const auto* payload = envelope->if_contains("payload");
    if (!payload || !payload->is_object()) return fail(Errc::invalid_argument, "payload is not an object");

    if (*type == kUsageEventType) {
        auto e = usage_from(payload->as_object());
        if (!e) return fail(e.error());
        e->event_id = std::move(*event_id);
        e->occurred_at = *when;
        return DecodedEvent(std::move(*e));
    }
    if (*type == kPurchaseEventType) {
        auto e = purchase_from(payload->as_object());
        if (!e) return fail(e.error());
        e->event_id = std::move(*event_id);
        e->occurred_at = *when;
        return DecodedEvent(std::move(*e));
    }
    return fail(Errc::invalid_argument, "unknown eventType");
}

}  // namespace lt::analytics
