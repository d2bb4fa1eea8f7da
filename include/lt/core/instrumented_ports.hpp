#pragma once
/// Latency histograms for the stores, as decorators put around each port once, in the composition
/// root (so no adapter and no caller changes):
///   store_sql_transaction_seconds{database,outcome}   one SqlDatabase::transact (queueing included)
///   store_kv_call_seconds{op,outcome}                  one KeyValueStore call
///   store_event_log_call_seconds{op,outcome}           one EventLog call (poll excluded: it waits)
/// `outcome` is ok | unavailable | error. Series are resolved when the decorator is built: a call
/// costs two clock reads and two atomic adds.
///
/// With an enabled `tracer`, a call made for a request whose trace is sampled (the thread's
/// RequestScope, request_scope.hpp) is also a client span, child of the request's innermost span:
/// `kv <op>`, `events <op>`, `sql transaction` with one `sql <first keyword>` span per statement
/// under it; attribute db.system (sqlite | postgresql | redis | kafka | memory). Tracing off (no
/// tracer, or no endpoint): one null check per call, nothing read or allocated.

#include <memory>
#include <string>

#include "lt/ports/event_log.hpp"
#include "lt/ports/key_value_store.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt {
class MetricsRegistry;
class Tracer;

/// Wraps `inner` (owned); `database` labels the series ("main", "usage"). `tracer` (may be null)
/// must outlive the decorator. Start-up only.
std::unique_ptr<ports::SqlDatabase> instrument_sql(std::unique_ptr<ports::SqlDatabase> inner, MetricsRegistry& metrics,
                                                   const std::string& database, Tracer* tracer = nullptr);
/// Wraps `inner` (owned); `system` is the spans' db.system (the storage.kv.driver). Start-up only.
std::unique_ptr<ports::KeyValueStore> instrument_kv(std::unique_ptr<ports::KeyValueStore> inner,
                                                    MetricsRegistry& metrics, Tracer* tracer = nullptr,
                                                    std::string system = "memory");
/// Wraps `inner` (owned); `system` is the spans' db.system (the storage.events.driver). Start-up only.
std::unique_ptr<ports::EventLog> instrument_event_log(std::unique_ptr<ports::EventLog> inner, MetricsRegistry& metrics,
                                                     Tracer* tracer = nullptr, std::string system = "memory");

}  // namespace lt
