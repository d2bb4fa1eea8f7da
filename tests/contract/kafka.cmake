# The Kafka adapter against librdkafka's mock cluster, hosted in each test process (no server to
# start): the contract suites in one executable, the Kafka-specific cases in another, so that ctest
# -j runs them side by side (the mock holds each fresh group's first join for 3 s).
lt_add_test(NAME contract_kafka_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/event_log_kafka_test.cpp
  LIBS lt::adapter_kafka PkgConfig::RDKAFKA)
lt_add_test(NAME kafka_event_log_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/kafka_event_log_test.cpp
  LIBS lt::adapter_kafka PkgConfig::RDKAFKA)

# lt-kafka-mock: a mock cluster in its own process, for tests that start several `leaky-tokens serve`.
add_executable(lt-kafka-mock ${PROJECT_SOURCE_DIR}/tests/support/kafka_mock_main.cpp)
target_link_libraries(lt-kafka-mock PRIVATE PkgConfig::RDKAFKA)
set_target_properties(lt-kafka-mock PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
lt_set_warnings(lt-kafka-mock)
