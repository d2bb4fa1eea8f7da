# Metrics registry (src/core/metrics/*).
target_sources(lt_core PRIVATE metrics/metrics.cpp metrics/process_metrics.cpp metrics/instrumented_ports.cpp)
