# Configuration loader and metrics registry (src/core/config, src/core/metrics).
lt_add_test(NAME unit_config_test
  SOURCES
    unit/config_test.cpp
  LIBS lt::core)

lt_add_test(NAME unit_metrics_test
  SOURCES
    unit/metrics_test.cpp
  LIBS lt::core)
