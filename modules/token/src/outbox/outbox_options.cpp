#include "outbox/outbox_options.hpp"

#include <algorithm>
#include <cstdint>

#include "lt/core/time.hpp"

namespace lt::token {

void describe_outbox_config(config::Schema& s) {
    using config::Type;
    s.add({"token.outbox.enabled", Type::boolean, "Run the outbox relay (publishes outbox rows to the event log)."});
    s.add({"token.outbox.batch-size", Type::integer, "Outbox rows read and published per relay pass.", 1, 100000});
    s.add({"token.outbox.poll-interval-ms", Type::integer,
           "Milliseconds between relay passes when nothing wakes the relay.", 1, 86400000});
    s.add({"token.outbox.linger", Type::duration,
           "After a wake-up the relay waits this long so that one pass carries many rows (0: none).", 0, 10000});
    s.add({"token.outbox.max-backoff", Type::duration, "Longest pause of the relay after repeated failures.", 1});
    s.add({"token.outbox.retention", Type::duration, "Published outbox rows older than this are deleted.", 0});
    s.add({"token.outbox.purge-interval", Type::duration, "How often published outbox rows are purged.", 1000});
    s.add({"token.outbox.lease", Type::duration,
           "How long a relay owns the batch of outbox rows it claimed (another process re-publishes them after).", 1000});
    s.add({"token.outbox.delete-consumed", Type::boolean,
           "Embedded profile (SQLite + in-memory event log): the relay keeps a cursor and deletes outbox rows once every "
           "consumer group committed them; PostgreSQL + Kafka: rows are deleted once Kafka acknowledged them (false: "
           "stamp published_at and purge after token.outbox.retention)."});
    s.add({"token.usage.topic", Type::string, "Event log topic of usage events."});
    s.add({"token.purchase.topic", Type::string, "Event log topic of purchase saga events."});
}

Result<OutboxOptions> parse_outbox_config(const config::Config& c) {
    OutboxOptions o;
    o.enabled = c.get_bool("token.outbox.enabled", o.enabled);
    o.batch_size = static_cast<std::size_t>(
        std::max<std::int64_t>(1, c.get_int("token.outbox.batch-size", static_cast<std::int64_t>(o.batch_size))));
    o.poll_interval = std::chrono::milliseconds(
        std::max<std::int64_t>(1, c.get_int("token.outbox.poll-interval-ms", o.poll_interval.count())));
    o.linger = std::max(c.get_duration("token.outbox.linger", o.linger), std::chrono::milliseconds(0));
    o.max_backoff = std::max(c.get_duration("token.outbox.max-backoff", o.max_backoff), std::chrono::milliseconds(1));
    o.initial_backoff = std::min(o.initial_backoff, o.max_backoff);
    o.retention = std::max(c.get_duration("token.outbox.retention", o.retention), std::chrono::milliseconds(0));
    o.purge_interval =
        std::max(c.get_duration("token.outbox.purge-interval", o.purge_interval), std::chrono::milliseconds(1));
    o.lease = std::max(c.get_duration("token.outbox.lease", o.lease), std::chrono::milliseconds(1000));
    o.delete_consumed = c.get_bool("token.outbox.delete-consumed", true);
    o.usage_topic = c.get_string("token.usage.topic", o.usage_topic);
    o.purchase_topic = c.get_string("token.purchase.topic", o.purchase_topic);
    std::string errors;
    if (trim(o.usage_topic).empty()) errors += "token.usage.topic must not be empty\n";
    if (trim(o.purchase_topic).empty()) errors += "token.purchase.topic must not be empty\n";
    if (!errors.empty()) {
        errors.pop_back();
        return fail(Errc::invalid_argument, errors);
    }
    return o;
}

}  // namespace lt::token
