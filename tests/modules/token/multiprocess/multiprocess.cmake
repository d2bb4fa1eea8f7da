# CONTRACT 30 with real processes: three `leaky-tokens serve` on one database (shared quota mode),
# concurrent HTTP clients, a kill -9 mid-load. Once on one SQLite data directory, and once more on the
# production profile (one PostgreSQL database, one Redis, one Kafka mock cluster).

lt_add_test(NAME token_multiprocess_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/multiprocess_test.cpp
  LIBS lt::core)
add_dependencies(token_multiprocess_test leaky-tokens)
if(LT_WITH_POSTGRES)
  target_link_libraries(token_multiprocess_test PRIVATE lt::adapter_postgres)
  target_compile_definitions(token_multiprocess_test PRIVATE LT_WITH_POSTGRES=1)
  lt_add_production_run(TARGET token_multiprocess_test TIMEOUT 1200 REDIS_DB 4)
endif()
