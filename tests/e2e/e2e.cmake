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
