# CONTRACT 30 with real processes: three `leaky-tokens serve` on one database (shared quota mode),
# concurrent HTTP clients, a kill -9 mid-load.

lt_add_test(NAME token_multiprocess_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/multiprocess_test.cpp
  LIBS lt::core)
add_dependencies(token_multiprocess_test leaky-tokens)
