// Unit tests of the analytics module: envelope decoding, query parameters and configuration checks.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "support/module_config.hpp"
#include "analytics_config.hpp"
#include "event_codec.hpp"
#include "lt/analytics/analytics.hpp"
#include "lt/core/config.hpp"
#include "lt/core/time.hpp"
#include "lt/token/token.hpp"
#include "query_params.hpp"

namespace json = boost::json;
using lt::analytics::decode_event;

namespace {

json::object usage_envelope() {
    return json::object{{"eventId", "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"},
                        {"eventType", "token.usage.v1"},
                        {"occurredAt", "2026-01-01T10:00:00.123Z"},
                        {"payload", json::object{{"userId", "AAAAAAAA-0000-4000-8000-000000000001"},
                                                 {"orgId", nullptr},
                                                 {"provider", " OpenAI "},
                                                 {"tokens", 42},
                                                 {"allowed", true},
                                                 {"outcome", "allowed"}}}};
}

json::object purchase_envelope() {
    return json::object{{"eventId", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"},
                        {"eventType", "token.purchase.v1"},
                        {"occurredAt", "2026-01-01T10:00:01Z"},
                        {"payload", json::object{{"event", "TOKEN_PURCHASE_COMPLETED"},
                                                 {"sagaId", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5d"},
                                                 {"userId", "aaaaaaaa-0000-4000-8000-000000000001"},
                                                 {"orgId", "bbbbbbbb-0000-4000-8000-000000000002"},
                                                 {"provider", "qwen"},
                                                 {"tokens", 500},
                                                 {"idempotencyKey", nullptr},
                                                 {"status", "COMPLETED"},
                                                 {"createdAt", "2026-01-01T09:59:00Z"},
                                                 {"updatedAt", "2026-01-01T10:00:01Z"}}}};
}

/// The envelope with `payload.<field>` replaced (or removed when `value` is absent).
std::string with_payload(json::object envelope, const std::string& field, std::optional<json::value> value) {
    auto& p = envelope["payload"].as_object();
    if (value) p[field] = *value; else p.erase(field);
    return json::serialize(envelope);
}

lt::http::Request request(std::string query) {
    lt::http::Request r;
    r.method = "GET";
    r.path = "/api/v1/analytics/report";
    r.query = std::move(query);
    r.target = r.path + "?" + r.query;
    return r;
}

lt::config::Config load(std::vector<std::string> overrides) {
    return lt::test::load_module_config(&lt::analytics::describe_config, std::move(overrides));
}

}  // namespace

TEST_CASE("a usage envelope decodes into a usage event with canonical ids and a lower-case provider") {
    auto d = decode_event(json::serialize(usage_envelope()));
    REQUIRE(d);
    const auto& e = std::get<lt::ports::UsageEvent>(*d);
    CHECK(e.event_id == "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    CHECK(e.user_id == "aaaaaaaa-0000-4000-8000-000000000001");
    CHECK_FALSE(e.org_id.has_value());
    CHECK(e.provider == "openai");
    CHECK(e.tokens == 42);
    CHECK(e.allowed);
    CHECK(e.outcome == "allowed");
    CHECK(e.occurred_at == *lt::parse_rfc3339("2026-01-01T10:00:00.123Z"));
}

TEST_CASE("a purchase envelope decodes into a purchase event") {
    auto d = decode_event(json::serialize(purchase_envelope()));
    REQUIRE(d);
    const auto& e = std::get<lt::ports::PurchaseEvent>(*d);
    CHECK(e.event == "TOKEN_PURCHASE_COMPLETED");
    CHECK(e.saga_id == "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5d");
    CHECK(e.org_id == "bbbbbbbb-0000-4000-8000-000000000002");
    CHECK(e.provider == "qwen");
    CHECK(e.tokens == 500);
    CHECK(e.status == "COMPLETED");
    CHECK(e.occurred_at == *lt::parse_rfc3339("2026-01-01T10:00:01Z"));
}

TEST_CASE("malformed envelopes are refused with a reason naming the field") {
    auto reason = [](const std::string& value) {
        auto d = decode_event(value);
        REQUIRE_FALSE(d);
        CHECK(d.error().code == lt::Errc::invalid_argument);
        return d.error().message;
    };
    CHECK(reason("not json") == "value is not JSON");
    CHECK(reason("[1,2]") == "value is not a JSON object");
    auto env = usage_envelope();
    env["eventId"] = "not-a-uuid";
    CHECK(reason(json::serialize(env)) == "eventId is not a UUID");
    env = usage_envelope();
    env.erase("eventId");
    CHECK(reason(json::serialize(env)) == "eventId is missing");
    env = usage_envelope();
    env["eventType"] = "token.other.v9";
    CHECK(reason(json::serialize(env)) == "unknown eventType");
    env = usage_envelope();
    env["occurredAt"] = "yesterday";
    CHECK(reason(json::serialize(env)) == "occurredAt is not an RFC 3339 time");
    env = usage_envelope();
    env["payload"] = "x";
    CHECK(reason(json::serialize(env)) == "payload is not an object");
    CHECK(reason(with_payload(usage_envelope(), "userId", std::nullopt)) == "userId is missing");
    CHECK(reason(with_payload(usage_envelope(), "userId", json::value(""))) == "userId is empty");
    CHECK(reason(with_payload(usage_envelope(), "provider", json::value(7))) == "provider is not a string");
    CHECK(reason(with_payload(usage_envelope(), "tokens", json::value("5"))) == "tokens is not an integer");
    CHECK(reason(with_payload(usage_envelope(), "tokens", json::value(1.5))) == "tokens is not an integer");
    CHECK(reason(with_payload(usage_envelope(), "tokens", json::value(-1))) == "tokens is negative");
    CHECK(reason(with_payload(usage_envelope(), "allowed", json::value("true"))) == "allowed is not a boolean");
    CHECK(reason(with_payload(usage_envelope(), "outcome", std::nullopt)) == "outcome is missing");
    CHECK(reason(with_payload(usage_envelope(), "orgId", json::value(3))) == "orgId is not a string");
    CHECK(reason(with_payload(usage_envelope(), "userId", json::value(std::string(200, 'x')))) == "userId is too long");
    CHECK(reason(with_payload(purchase_envelope(), "sagaId", std::nullopt)) == "sagaId is missing");
    CHECK(reason(with_payload(purchase_envelope(), "event", json::value(nullptr))) == "event is missing");
}

TEST_CASE("integer and number parameters accept decimal text and refuse everything else") {
    using lt::analytics::int_param;
    using lt::analytics::number_param;
    CHECK(int_param(request("limit=15"), "limit").value() == 15);
    CHECK(int_param(request("limit=%2B15"), "limit").value() == 15);
    CHECK(int_param(request("limit=+15"), "limit").value() == 15);  // `+` is a space in a query string
    CHECK(int_param(request("limit=-3"), "limit").value() == -3);
    CHECK_FALSE(int_param(request(""), "limit").value().has_value());
    CHECK_FALSE(int_param(request("limit="), "limit").value().has_value());
    for (std::string bad : {"limit=abc", "limit=1.5", "limit=10x", "limit=99999999999999999999", "limit=%2B-1", "limit=%2B"}) {
        CAPTURE(bad);
        auto r = int_param(request(bad), "limit");
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "limit must be an integer");
    }
    CHECK(number_param(request("thresholdMultiplier=2.5"), "thresholdMultiplier").value() == 2.5);
    CHECK(number_param(request("thresholdMultiplier=3"), "thresholdMultiplier").value() == 3.0);
    for (std::string bad : {"thresholdMultiplier=x", "thresholdMultiplier=nan", "thresholdMultiplier=inf",
                            "thresholdMultiplier=1e999"}) {
        CAPTURE(bad);
        auto r = number_param(request(bad), "thresholdMultiplier");
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "thresholdMultiplier must be a number");
    }
}

TEST_CASE("clamp keeps the original rule: missing or non-positive gives the default, else at most the maximum") {
    using lt::analytics::clamp_param;
    CHECK(clamp_param(std::nullopt, 60, 1440) == 60);
    CHECK(clamp_param(0, 60, 1440) == 60);
    CHECK(clamp_param(-5, 60, 1440) == 60);
    CHECK(clamp_param(30, 60, 1440) == 30);
    CHECK(clamp_param(5000, 60, 1440) == 1440);
}

TEST_CASE("provider parameter is required, trimmed and lower-cased") {
    CHECK(lt::analytics::provider_param(request("provider=%20OpenAI%20")).value() == "openai");
    CHECK(lt::analytics::provider_param(request("provider=%20")).error().message == "provider is required");
    CHECK(lt::analytics::provider_param(request("limit=3")).error().message == "provider is required");
}

TEST_CASE("analytics configuration has the original defaults and refuses inconsistent settings") {
    auto cfg = lt::analytics::parse_config(load({}));
    REQUIRE(cfg);
    CHECK(cfg->usage_topic == "token-usage");
    CHECK(cfg->purchase_topic == "token-purchase-events");
    CHECK(cfg->group == "analytics");
    CHECK(cfg->consume);
    CHECK(cfg->limits.default_window_minutes == 60);
    CHECK(cfg->limits.max_window_minutes == 1440);
    CHECK(cfg->limits.max_limit == 5000);
    CHECK(cfg->limits.default_baseline_windows == 4);
    CHECK(cfg->limits.max_baseline_windows == 24);
    CHECK(cfg->limits.max_top_users == 5);
    CHECK(cfg->limits.default_threshold == 2.0);

    auto bad = lt::analytics::parse_config(load({"analytics.report.default-window-minutes=100",
                                                 "analytics.report.max-window-minutes=50",
                                                 "analytics.retention.raw-events=1h"}));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("analytics.report.default-window-minutes") != std::string::npos);
    CHECK(bad.error().message.find("analytics.retention.raw-events") != std::string::npos);
    auto rollups = lt::analytics::parse_config(load({"analytics.retention.rollups=1d"}));
    REQUIRE_FALSE(rollups);
    CHECK(rollups.error().message.find("analytics.retention.rollups") != std::string::npos);
}

TEST_CASE("what the token module's codec writes is what analytics reads: one envelope, declared once") {
    lt::token::UsageEvent usage{"0190D7E2-0000-7000-8000-000000000001", std::string(lt::token::kUsage.name),
                                "2026-01-02T03:04:05.000Z",
                                lt::token::UsagePayload{"AAAAAAAA-0000-4000-8000-000000000001", std::nullopt, "OpenAI",
                                                        42, true, "allowed", "gpt-4o", 10, 32, "complete"}};
    auto u = decode_event(json::serialize(json::value_from(usage)));
    REQUIRE(u);
    const auto& e = std::get<lt::ports::UsageEvent>(*u);
    CHECK(e.event_id == "0190d7e2-0000-7000-8000-000000000001");
    CHECK(e.user_id == "aaaaaaaa-0000-4000-8000-000000000001");
    CHECK(e.provider == "openai");
    CHECK(e.tokens == 42);
    CHECK(e.allowed);
    CHECK(e.outcome == "allowed");
    // The codec itself is lossless (the bus's codec check relies on it).
    CHECK(json::value_to<lt::token::UsageEvent>(json::value_from(usage)) == usage);

    lt::token::PurchaseEvent purchase{"0190d7e2-0000-7000-8000-000000000002", std::string(lt::token::kPurchase.name),
                                      "2026-01-02T03:04:05.000Z",
                                      lt::token::PurchasePayload{"TOKEN_PURCHASE_COMPLETED", "bbbbbbbb-0000-4000-8000-000000000001",
                                                                 "aaaaaaaa-0000-4000-8000-000000000001", std::nullopt, "qwen", 5,
                                                                 "key-1", "COMPLETED", "2026-01-02T03:04:05.000Z",
                                                                 "2026-01-02T03:04:05.000Z"}};
    auto p = decode_event(json::serialize(json::value_from(purchase)));
    REQUIRE(p);
    CHECK(std::get<lt::ports::PurchaseEvent>(*p).status == "COMPLETED");
    CHECK(json::value_to<lt::token::PurchaseEvent>(json::value_from(purchase)) == purchase);
}
