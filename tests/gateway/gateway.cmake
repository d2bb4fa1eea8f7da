# The gateway edge against real processes: per-route resilience and streamed bodies through the proxy
# (split mode), TLS termination.
lt_add_test(NAME gateway_split_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/resilience_split_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/stream_split_test.cpp
  LIBS lt::core)
target_include_directories(gateway_split_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
add_dependencies(gateway_split_test leaky-tokens)

lt_add_test(NAME tls_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/tls_test.cpp LIBS lt_app)
target_include_directories(tls_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
