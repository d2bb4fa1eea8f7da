#pragma once
/// Options of the transactional outbox relay: token.outbox.*, token.usage.topic, token.purchase.topic.

#include <chrono>
#include <cstddef>
#include <string>

#include "lt/core/config.hpp"
#include "lt/core/result.hpp"

namespace lt::token {

/// How the OutboxRelay publishes token_outbox rows to the event log and purges published ones.
struct OutboxOptions {
    bool enabled = true;                           ///< token.outbox.enabled: start() runs the relay thread
    std::size_t batch_size = 50;                   ///< token.outbox.batch-size: rows read per pass (≥ 1)
    std::chrono::milliseconds poll_interval{2000}; ///< token.outbox.poll-interval-ms: idle period without wake()
    std::chrono::milliseconds linger{20};          ///< token.outbox.linger: a wake() waits this long to gather rows
    std::chrono::milliseconds initial_backoff{100};  ///< first pause after a failed pass (not configurable)
    std::chrono::milliseconds max_backoff{30000};  ///< token.outbox.max-backoff: pauses double up to this
    std::chrono::milliseconds retention{600000};   ///< token.outbox.retention: published rows older are purged
    std::chrono::milliseconds purge_interval{60000};  ///< token.outbox.purge-interval: how often purge runs
    std::chrono::milliseconds lease{30000};       ///< token.outbox.lease: a claimed batch is this relay's for this long
    /// token.outbox.delete-consumed: over SQLite and an event log that knows its consumers (the
    /// in-memory log of the embedded profile), keep a cursor instead of stamping each row and delete
    /// the rows every consumer group has committed (see OutboxRelay). false: stamp and purge after
    /// `retention` (what N processes on one database do). Off by default here; config default: on.
    bool delete_consumed = false;
    /// Cursor mode deletes nothing this long after the relay was created: consumer groups that are
    /// still joining would not count (not configurable; tests set 0).
    std::chrono::milliseconds consumer_grace{1000};
    std::chrono::milliseconds stop_flush{2000};    ///< stop() keeps publishing this long at most (0: no flush)
    std::string usage_topic = "token-usage";       ///< token.usage.topic: rows of aggregate type TokenUsage
    std::string purchase_topic = "token-purchase-events";  ///< token.purchase.topic: every other aggregate type
};

/// Declares the keys above (called by the token module's describe_config).
void describe_outbox_config(config::Schema& schema);

/// Reads the keys above from a validated configuration; Errc::invalid_argument (every problem listed)
/// when a topic is empty.
Result<OutboxOptions> parse_outbox_config(const config::Config& config);

}  // namespace lt::token
