# UsageStore port: the contract suite against every compiled adapter (SqlUsageStore on SQLite, and on
# PostgreSQL when built with it: those cases need LT_TEST_POSTGRES_URL and skip with a MESSAGE without).
if(LT_WITH_POSTGRES)
  lt_add_test(NAME contract_usage_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/usage_store_contract_test.cpp
    LIBS lt::adapter_sqlite lt::adapter_postgres)
  target_compile_definitions(contract_usage_test PRIVATE LT_WITH_POSTGRES=1)
else()
  lt_add_test(NAME contract_usage_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/usage_store_contract_test.cpp
    LIBS lt::adapter_sqlite)
endif()
