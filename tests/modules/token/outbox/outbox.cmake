# The token module's transactional outbox relay on its own, over real SQLite and the memory event log.

lt_add_test(NAME token_outbox_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/outbox_options_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/outbox_relay_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/outbox_crash_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/outbox_concurrency_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/outbox_cursor_test.cpp
  LIBS lt_token_outbox lt::adapter_sqlite lt::adapter_memory)
target_include_directories(token_outbox_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})

if(LT_WITH_POSTGRES)
  # The relay's PostgreSQL pass on a real server (LT_TEST_POSTGRES_URL; skipped without it).
  lt_add_test(NAME token_outbox_postgres_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/outbox_postgres_test.cpp
    LIBS lt_token_outbox lt::adapter_sqlite lt::adapter_memory lt::adapter_postgres)
  target_include_directories(token_outbox_postgres_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
endif()
