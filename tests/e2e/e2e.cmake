# End-to-end tests of the real executable in separate processes (kill -9 and restart on the same data).

lt_add_test(NAME e2e_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/saga_crash_test.cpp
  LIBS lt::adapter_sqlite)
add_dependencies(e2e_test leaky-tokens)

# Split mode: four processes (gateway+registry+config | auth | token+providers | analytics).
lt_add_test(NAME e2e_split_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/split_mode_test.cpp
  LIBS lt::core)
add_dependencies(e2e_split_test leaky-tokens)

# Split mode on the production profile (issue 10, 7(c)): gateway+registry+config+auth+analytics and two
# token+providers processes on one PostgreSQL database, one Redis and one Kafka mock cluster. Skips
# (with a MESSAGE) unless LT_TEST_EXTRA_SET selects PostgreSQL and Redis: the _production entry runs it
# under scripts/run-with-env.sh --production.
lt_add_test(NAME e2e_split_shared_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/split_shared_test.cpp
  LIBS lt::core)
add_dependencies(e2e_split_shared_test leaky-tokens)
if(LT_WITH_POSTGRES)
  target_link_libraries(e2e_split_shared_test PRIVATE lt::adapter_postgres)
  target_compile_definitions(e2e_split_shared_test PRIVATE LT_WITH_POSTGRES=1)
  lt_add_production_run(TARGET e2e_split_shared_test TIMEOUT 600 REDIS_DB 5)
endif()

# Live upstream streaming across processes (gateway+auth+analytics | token | providers) against a fake
# OpenAI-compatible upstream in the test process.
find_package(OpenSSL REQUIRED)
lt_add_test(NAME e2e_split_stream_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/split_stream_test.cpp
  LIBS lt::core OpenSSL::SSL OpenSSL::Crypto)
add_dependencies(e2e_split_stream_test leaky-tokens)
