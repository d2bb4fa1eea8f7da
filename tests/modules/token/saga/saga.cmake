# The token module's purchase saga on its own: steps, idempotency, compensation, recovery, concurrency.

lt_add_test(NAME token_saga_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/purchase_saga_test.cpp
  LIBS lt_token_saga lt::adapter_sqlite)
target_include_directories(token_saga_test PRIVATE ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_CURRENT_LIST_DIR}/../quota)
