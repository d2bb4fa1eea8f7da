# SqlDatabase port: the contract suite (every compiled SQL adapter) and the SQLite adapter's own cases.
lt_add_test(NAME contract_sql_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/sql_database_contract_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/sqlite_database_test.cpp
  LIBS lt::adapter_sqlite)
