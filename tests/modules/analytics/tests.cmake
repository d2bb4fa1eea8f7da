# The analytics module wired to real adapters: SQLite (SqlUsageStore) and the memory event log.
lt_add_test(NAME analytics_module_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/analytics_module_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/analytics_service_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/analytics_ingest_bench.cpp
  LIBS lt::analytics lt::adapter_sqlite lt::adapter_memory)
target_include_directories(analytics_module_test PRIVATE ${PROJECT_SOURCE_DIR}/modules/analytics/src ${CMAKE_CURRENT_LIST_DIR})
