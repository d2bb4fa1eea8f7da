# SqlDatabase port: the contract suite (every compiled SQL adapter) and each adapter's own cases.
# PostgreSQL cases need LT_TEST_POSTGRES_URL (scripts/test-servers.sh) and skip with a MESSAGE without it.
set(LT_SQL_TEST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/sql_database_contract_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_database_test.cpp)
set(LT_SQL_TEST_LIBS lt::adapter_sqlite)
if(LT_WITH_POSTGRES)
  list(APPEND LT_SQL_TEST_SOURCES ${CMAKE_CURRENT_LIST_DIR}/postgres_database_test.cpp)
  list(APPEND LT_SQL_TEST_LIBS lt::adapter_postgres)
endif()
lt_add_test(NAME contract_sql_test SOURCES ${LT_SQL_TEST_SOURCES} LIBS ${LT_SQL_TEST_LIBS})
if(LT_WITH_POSTGRES)
  target_compile_definitions(contract_sql_test PRIVATE LT_WITH_POSTGRES=1)
endif()
