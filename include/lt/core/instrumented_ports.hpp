#pragma once
/// Latency histograms for the stores, as decorators put around each port once, in the composition
/// root (so no adapter and no caller changes):
///   store_sql_transaction_seconds{database,outcome}   one SqlDatabase::transact (queueing included)
///   store_kv_call_seconds{op,outcome}                  one KeyValueStore call
///   store_event_log_call_seconds{op,outcome}           one EventLog call (poll excluded: it waits)
/// `outcome` is ok | unavailable | error. Series are resolved when the decorator is built: a call
/// costs two clock reads and two atomic adds.

#include <memory>
#include <string>

#include "lt/ports/event_log.hpp"
#include "lt/ports/key_value_store.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt {
class MetricsRegistry;

/// Wraps `inner` (owned); `database` labels the series ("main", "usage"). Start-up only.
std::unique_ptr<ports::SqlDatabase> instrument_sql(std::unique_ptr<ports::SqlDatabase> inner, MetricsRegistry& metrics,
                                                   const std::string& database);
/// Wraps `inner` (owned). Start-up only.
std::unique_ptr<ports::KeyValueStore> instrument_kv(std::unique_ptr<ports::KeyValueStore> inner,
                                                    MetricsRegistry& metrics);
/// Wraps `inner` (owned). Start-up only.
std::unique_ptr<ports::EventLog> instrument_event_log(std::unique_ptr<ports::EventLog> inner, MetricsRegistry& metrics);

}  // namespace lt
