#pragma once
/// The standard Prometheus process collector (the names every exporter uses), read from /proc at
/// scrape time: process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_open_fds, process_max_fds, process_start_time_seconds,
/// plus process_threads.

namespace lt {
class MetricsRegistry;

/// Registers the process collector on `metrics` (start-up, any thread). Costs nothing between
/// scrapes; a scrape reads /proc/self/stat, /proc/self/fd and getrlimit.
void register_process_metrics(MetricsRegistry& metrics);

}  // namespace lt
