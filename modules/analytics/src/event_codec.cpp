#include "event_codec.hpp"

#include <boost/json.hpp>

#include "lt/analytics/analytics.hpp"
#include "lt/bus/payload.hpp"
#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "lt/token/token.hpp"

namespace lt::analytics {

namespace {

/// Longest id or name accepted from an event (longer values are junk, not data).
constexpr std::size_t kMaxText = 128;

/// A decoded text field, trimmed and checked: non-empty when required, not longer than kMaxText.
Result<std::string> clean(std::string_view key, std::string_view raw, bool required = true) {
    auto s = trim(raw);
    if (required && s.empty()) return fail(Errc::invalid_argument, std::string(key) + " is empty");
    if (s.size() > kMaxText) return fail(Errc::invalid_argument, std::string(key) + " is too long");
    return s;
}

/// A user/org/saga id: lower-cased when it is a UUID, kept as sent otherwise.
std::string canonical_id(std::string id) {
    auto uuid = normalize_uuid(id);
    return uuid ? *uuid : id;
}

Result<std::optional<std::string>> optional_id(std::string_view key, const std::optional<std::string>& raw) {
    if (!raw) return std::optional<std::string>();
    auto s = clean(key, *raw, false);
    if (!s) return fail(s.error());
    if (s->empty()) return std::optional<std::string>();
    return std::optional<std::string>(canonical_id(std::move(*s)));
}

/// userId, orgId, provider and tokens, shared by usage and purchase payloads.
template <class Event, class Payload>
Result<void> read_owner_fields(const Payload& p, Event& e) {
    auto user = clean("userId", p.user_id);
    if (!user) return fail(user.error());
    e.user_id = canonical_id(std::move(*user));
    auto org = optional_id("orgId", p.org_id);
    if (!org) return fail(org.error());
    e.org_id = std::move(*org);
    auto provider = clean("provider", p.provider);
    if (!provider) return fail(provider.error());
    e.provider = to_lower(*provider);
    if (p.tokens < 0) return fail(Errc::invalid_argument, "tokens is negative");
    e.tokens = p.tokens;
    return ok();
}

/// The envelope's eventId and occurredAt, checked.
template <class Event, class Envelope>
Result<void> read_envelope(const Envelope& in, Event& e) {
    auto id = clean("eventId", in.event_id);
    if (!id) return fail(id.error());
    auto event_id = normalize_uuid(*id);
    if (!event_id) return fail(Errc::invalid_argument, "eventId is not a UUID");
    auto when = parse_rfc3339(trim(in.occurred_at));
    if (!when) return fail(Errc::invalid_argument, "occurredAt is not an RFC 3339 time");
    e.event_id = std::move(*event_id);
    e.occurred_at = *when;
    return ok();
}

Result<ports::UsageEvent> usage_from(const token::UsageEvent& in) {
    ports::UsageEvent e;
    if (auto r = read_envelope(in, e); !r) return fail(r.error());
    if (auto r = read_owner_fields(in.payload, e); !r) return fail(r.error());
    e.allowed = in.payload.allowed;
    auto outcome = clean("outcome", in.payload.outcome);
    if (!outcome) return fail(outcome.error());
    e.outcome = std::move(*outcome);
    // Chat completions (/v1/chat/completions) also name the model and how the exchange ended.
    // A model name is the caller's text: a long or odd one is cut, never a reason to drop the event.
    const auto& p = in.payload;
    if (p.model && !p.model->empty()) {
        e.model = p.model->substr(0, kMaxText);
        e.prompt_tokens = p.prompt_tokens;
        e.completion_tokens = p.completion_tokens;
        if (p.completeness) {
            auto completeness = clean("completeness", *p.completeness, false);
            if (completeness && !completeness->empty()) e.completeness = std::move(*completeness);
        }
    }
    return e;
}

Result<ports::PurchaseEvent> purchase_from(const token::PurchaseEvent& in) {
    ports::PurchaseEvent e;
    if (auto r = read_envelope(in, e); !r) return fail(r.error());
    auto event = clean("event", in.payload.event);
    if (!event) return fail(event.error());
    e.event = std::move(*event);
    auto saga = clean("sagaId", in.payload.saga_id);
    if (!saga) return fail(saga.error());
    e.saga_id = canonical_id(std::move(*saga));
    if (auto r = read_owner_fields(in.payload, e); !r) return fail(r.error());
    auto status = clean("status", in.payload.status, false);
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
    // The envelope's shape is the token module's contract (lt/token/token.hpp): decoded by its codec.
    const auto* type = envelope->if_contains("eventType");
    const std::string_view type_name = type && type->is_string() ? std::string_view(type->as_string()) : "";
    if (type_name == token::kUsage.name) {
        auto in = bus::decode<token::UsageEvent>(*parsed);
        if (!in) return fail(in.error());
        auto e = usage_from(*in);
        if (!e) return fail(e.error());
        return DecodedEvent(std::move(*e));
    }
    if (type_name == token::kPurchase.name) {
        auto in = bus::decode<token::PurchaseEvent>(*parsed);
        if (!in) return fail(in.error());
        auto e = purchase_from(*in);
        if (!e) return fail(e.error());
        return DecodedEvent(std::move(*e));
    }
    if (type == nullptr || type->is_null()) return fail(Errc::invalid_argument, "eventType is missing");
    if (!type->is_string()) return fail(Errc::invalid_argument, "eventType is not a string");
    return fail(Errc::invalid_argument, "unknown eventType");
}

}  // namespace lt::analytics
