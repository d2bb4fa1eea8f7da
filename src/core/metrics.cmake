# Metrics registry (src/core/metrics/*).
target_sources(lt_core PRIVATE metrics/metrics.cpp)
