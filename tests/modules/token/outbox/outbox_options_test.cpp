#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "lt/core/config.hpp"
#include "outbox/outbox_options.hpp"

using namespace lt;
using namespace lt::token;
using namespace std::chrono_literals;

namespace {

Result<config::Config> load(std::vector<std::string> overrides) {
    config::Schema schema;
    config::describe_kernel(schema);
    describe_outbox_config(schema);
    config::LoadOptions options;
    options.read_env = false;
    options.overrides = std::move(overrides);
    return config::load(schema, options);
}

}  // namespace

TEST_CASE("outbox options read the shipped defaults, which match the struct's own") {
    auto c = load({});
    REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
    auto o = parse_outbox_config(*c);
    REQUIRE_MESSAGE(o, (o ? "" : o.error().message));
    const OutboxOptions defaults;
    CHECK(o->enabled);
    CHECK(o->batch_size == 50);
    CHECK(o->poll_interval == 2000ms);
    CHECK(o->max_backoff == 30s);
    CHECK(o->retention == 10min);
    CHECK(o->purge_interval == 1min);
    CHECK(o->usage_topic == "token-usage");
    CHECK(o->purchase_topic == "token-purchase-events");
    CHECK(o->batch_size == defaults.batch_size);
    CHECK(o->poll_interval == defaults.poll_interval);
    CHECK(o->max_backoff == defaults.max_backoff);
    CHECK(o->retention == defaults.retention);
    CHECK(o->purge_interval == defaults.purge_interval);
    CHECK(o->usage_topic == defaults.usage_topic);
    CHECK(o->purchase_topic == defaults.purchase_topic);
}

TEST_CASE("outbox options follow overrides and refuse bad values naming the key") {
    auto c = load({"token.outbox.enabled=false", "token.outbox.batch-size=500", "token.outbox.poll-interval-ms=250",
                   "token.outbox.max-backoff=50ms", "token.outbox.retention=0ms", "token.outbox.purge-interval=10s",
                   "token.usage.topic=usage-a", "token.purchase.topic=purchases-b"});
    REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
    auto o = parse_outbox_config(*c);
    REQUIRE_MESSAGE(o, (o ? "" : o.error().message));
    CHECK_FALSE(o->enabled);
    CHECK(o->batch_size == 500);
    CHECK(o->poll_interval == 250ms);
    CHECK(o->max_backoff == 50ms);
    CHECK(o->initial_backoff == 50ms);  // never above the maximum
    CHECK(o->retention == 0ms);
    CHECK(o->purge_interval == 10s);
    CHECK(o->usage_topic == "usage-a");
    CHECK(o->purchase_topic == "purchases-b");

    auto bad = load({"token.outbox.batch-size=0", "token.outbox.max-backoff=soon"});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("token.outbox.batch-size") != std::string::npos);
    CHECK(bad.error().message.find("token.outbox.max-backoff") != std::string::npos);

    auto empty = load({"token.usage.topic= ", "token.purchase.topic="});
    if (empty) {
        auto parsed = parse_outbox_config(*empty);
        REQUIRE_FALSE(parsed);
        CHECK(parsed.error().message.find("token.usage.topic") != std::string::npos);
        CHECK(parsed.error().message.find("token.purchase.topic") != std::string::npos);
    } else {
        CHECK(empty.error().message.find("token.usage.topic") != std::string::npos);
    }
}
