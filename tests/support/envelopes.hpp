#pragma once
/// Event envelopes as the token module's outbox writes them, for tests that feed the event log directly.

#include <chrono>
#include <cstdint>
#include <string>

#include <boost/json.hpp>

#include "lt/core/time.hpp"

namespace lt::test {

/// A `token.usage.v1` envelope; `outcome` defaults to `allowed` / `rate_limited` after `allowed`.
inline std::string usage_envelope(const std::string& event_id, const std::string& user, const std::string& provider,
                                  std::int64_t tokens, bool allowed, std::chrono::system_clock::time_point when,
                                  const std::string& outcome = "") {
    namespace json = boost::json;
    return json::serialize(json::object{
        {"eventId", event_id},
        {"eventType", "token.usage.v1"},
        {"occurredAt", format_rfc3339(when)},
        {"payload", json::object{{"userId", user},
                                 {"orgId", nullptr},
                                 {"provider", provider},
                                 {"tokens", tokens},
                                 {"allowed", allowed},
                                 {"outcome", outcome.empty() ? (allowed ? "allowed" : "rate_limited") : outcome}}}});
}

/// A `token.purchase.v1` envelope of saga step `event` (provider openai, no org, no idempotency key).
inline std::string purchase_envelope(const std::string& event_id, const std::string& event, const std::string& saga,
                                     const std::string& user, std::int64_t tokens,
                                     std::chrono::system_clock::time_point when, const std::string& status) {
    namespace json = boost::json;
    return json::serialize(json::object{{"eventId", event_id},
                                        {"eventType", "token.purchase.v1"},
                                        {"occurredAt", format_rfc3339(when)},
                                        {"payload", json::object{{"event", event},
                                                                 {"sagaId", saga},
                                                                 {"userId", user},
                                                                 {"orgId", nullptr},
                                                                 {"provider", "openai"},
                                                                 {"tokens", tokens},
                                                                 {"idempotencyKey", nullptr},
                                                                 {"status", status},
                                                                 {"createdAt", format_rfc3339(when)},
                                                                 {"updatedAt", format_rfc3339(when)}}}});
}

}  // namespace lt::test
