# Unit tests of the analytics module's pure parts: event decoding, query parameters, configuration.
lt_add_test(NAME analytics_unit_test
  SOURCES ${PROJECT_SOURCE_DIR}/modules/analytics/tests/analytics_unit_test.cpp
  LIBS lt::analytics)
target_include_directories(analytics_unit_test PRIVATE ${PROJECT_SOURCE_DIR}/modules/analytics/src)
