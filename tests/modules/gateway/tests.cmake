lt_add_test(NAME gateway_test
  SOURCES
    ${PROJECT_SOURCE_DIR}/tests/modules/gateway/route_declarations_test.cpp
    ${PROJECT_SOURCE_DIR}/tests/modules/gateway/resilience_test.cpp
    ${PROJECT_SOURCE_DIR}/tests/modules/gateway/filters_test.cpp
  LIBS lt::gateway lt::adapter_memory lt::token_api lt::analytics_api lt::providers_api lt::registry_api lt::config_server_api)
target_include_directories(gateway_test PRIVATE ${PROJECT_SOURCE_DIR}/modules/gateway/src ${PROJECT_SOURCE_DIR}/tests)
