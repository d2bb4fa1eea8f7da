#pragma once
/// SqlUsageStore: the UsageStore port over any SqlDatabase (portable SQL with `$N` parameters; the
/// schema comes from migrations/analytics/<dialect>/, so PostgreSQL only needs its own migrations).

#include <cstddef>
#include <span>
#include <vector>

#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"
#include "lt/ports/usage_store.hpp"

namespace lt::adapters {

/// Usage and purchase events in `analytics_*` tables. Writes are one transaction per call: raw
/// inserts with ON CONFLICT (event_id) DO NOTHING, then one upsert per touched rollup row (the batch's
/// new events summed per minute in memory first). Window queries read whole minutes from the rollups
/// and the partial minutes at the edges from the raw events, in one transaction.
/// Thread-safe (the database serializes transactions); every call blocks, so never call it on an I/O
/// thread. SQL and parameters are never logged.
class SqlUsageStore final : public lt::ports::UsageStore {
public:
    /// `db` must outlive the store. No I/O here.
    explicit SqlUsageStore(lt::ports::SqlDatabase& db);

    /// Applies the embedded migrations of module "analytics" for the database's dialect.
    lt::Result<void> migrate() override;
    lt::Result<std::size_t> store_usage(std::span<const lt::ports::UsageEvent> events) override;
    lt::Result<std::size_t> store_purchases(std::span<const lt::ports::PurchaseEvent> events) override;
    lt::Result<std::vector<lt::ports::UsageEvent>> recent_usage(const lt::ports::UsageScope& scope,
                                                                std::size_t limit) override;
    lt::Result<std::vector<lt::ports::UsageTotals>> series(const lt::ports::UsageScope& scope,
                                                           std::span<const lt::ports::UsageTime> edges) override;
    lt::Result<std::vector<lt::ports::GroupTotals>> breakdown(const lt::ports::UsageScope& scope,
                                                              lt::ports::TimeRange range,
                                                              lt::ports::UsageDimension by) override;
    lt::Result<lt::ports::PurchaseTotals> purchases(const lt::ports::UsageScope& scope,
                                                    lt::ports::TimeRange range) override;
    lt::Result<std::size_t> purge(lt::ports::UsageTime raw_before, lt::ports::UsageTime rollups_before,
                                  std::size_t max_rows) override;
    lt::Result<std::size_t> compact_usage(lt::ports::UsageTime before, std::size_t max_rows) override;

private:
    lt::ports::SqlDatabase& db_;
};

}  // namespace lt::adapters
