#pragma once
/// The only place that knows concrete adapters: builds the ports a configuration asks for.

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "lt/core/blocking_pool.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/config.hpp"
#include "lt/ports/event_log.hpp"
#include "lt/ports/key_value_store.hpp"
#include "lt/ports/sql_database.hpp"
#include "lt/ports/usage_store.hpp"

namespace lt::app {

struct Adapters {
    std::unique_ptr<ports::SqlDatabase> sql;
    std::unique_ptr<ports::KeyValueStore> kv;
    std::unique_ptr<ports::EventLog> events;
    std::unique_ptr<ports::SqlDatabase> usage_sql;  ///< the usage store's own database (null: it uses `sql`)
    std::unique_ptr<ports::UsageStore> usage;  ///< on `usage_sql` or `sql` (declared after both: destroyed first)
};

/// Names of the adapters compiled into this binary ("sqlite", "memory", ...).
std::vector<std::string> compiled_adapters();

/// Opens the adapters selected by storage.*. Network adapters (Redis) run their connections on `io`,
/// which must outlive the adapters. Blocking (start-up only).
Result<Adapters> make_adapters(const config::Config& cfg, BlockingPool& pool, Clock& clock,
                               boost::asio::any_io_executor io);

}  // namespace lt::app
