# The token module's quota layer on its own: pools, organizations, group commit.

lt_add_test(NAME token_quota_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/group_committer_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/quota_service_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/quota_concurrency_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/org_service_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/shared_ledger_test.cpp
  LIBS lt_token_quota lt::adapter_sqlite)
target_include_directories(token_quota_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
if(LT_WITH_POSTGRES)
  # The shared-mode cases also run on PostgreSQL (LT_TEST_POSTGRES_URL).
  target_link_libraries(token_quota_test PRIVATE lt::adapter_postgres)
  target_compile_definitions(token_quota_test PRIVATE LT_WITH_POSTGRES=1)
endif()
