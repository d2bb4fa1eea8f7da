# Contract suites (key value store, event log, event consumer) against the memory adapters.
lt_add_test(NAME contract_memory_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/key_value_store_memory_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/event_log_memory_test.cpp
  LIBS lt::adapter_memory)
# The broadcast bridge between processes sharing an event log (memory log standing in for Kafka).
lt_add_test(NAME broadcast_bridge_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/broadcast_bridge_test.cpp
  LIBS lt::adapter_memory)
