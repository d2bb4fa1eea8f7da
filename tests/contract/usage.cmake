# UsageStore port: the contract suite against every compiled adapter (SqlUsageStore on SQLite).
lt_add_test(NAME contract_usage_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/usage_store_contract_test.cpp
  LIBS lt::adapter_sqlite)
