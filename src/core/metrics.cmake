# Metrics registry (src/core/metrics/*).
target_sources(lt_core PRIVATE metrics/metrics.cpp metrics/process_metrics.cpp metrics/instrumented_ports.cpp)
target_sources(lt_core PRIVATE tracing/tracer.cpp)  # spans and the OTLP exporter (tracing/*)
