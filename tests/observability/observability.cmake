# Observability (issue 13): a real Prometheus scraping a running server, the dashboards' and alert
# rules' expressions checked against what the server exports, promtool on the alert rules.
lt_add_test(NAME observability_test
  SOURCES
    observability/prometheus_scrape_test.cpp
    observability/dashboards_test.cpp
    observability/metrics_registry_test.cpp
    observability/tracing_test.cpp
    observability/json_log_test.cpp
    observability/request_context_test.cpp
  LIBS lt_app yaml-cpp)
add_dependencies(observability_test leaky-tokens)

find_program(LT_PROMTOOL promtool)
if(LT_PROMTOOL)
  add_test(NAME promtool_check_alert_rules
    COMMAND ${LT_PROMTOOL} check rules ${PROJECT_SOURCE_DIR}/deploy/prometheus/alert-rules.yml)
  add_test(NAME promtool_test_alert_rules
    COMMAND ${LT_PROMTOOL} test rules alert-rules.test.yml
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/prometheus)
  add_test(NAME promtool_check_prometheus_config
    COMMAND ${LT_PROMTOOL} check config --syntax-only ${PROJECT_SOURCE_DIR}/deploy/prometheus/prometheus.yml)
else()
  message(STATUS "promtool not found: the alert-rule tests are skipped (Debian package prometheus)")
  add_test(NAME promtool_test_alert_rules
    COMMAND ${CMAKE_COMMAND} -E echo "SKIPPED: promtool is not installed (Debian package prometheus)")
endif()

# Hot-path cost of metrics, run by hand (docs/operations.md, "Cost of observability").
add_executable(observability_bench observability/hot_path_bench.cpp)
target_link_libraries(observability_bench PRIVATE lt::core)
lt_set_warnings(observability_bench)
