lt_add_test(NAME integration_test
  SOURCES
    integration/server_test.cpp
    integration/providers_test.cpp
    integration/lifecycle_test.cpp
    integration/cli_test.cpp
    integration/auth_gateway_test.cpp
    integration/token_test.cpp
    integration/analytics_test.cpp
    integration/edge_test.cpp
    integration/purchase_test.cpp
    integration/restart_test.cpp
    integration/auth_cost_bench.cpp
  LIBS lt_app)
add_dependencies(integration_test leaky-tokens)

# The app on a Redis key-value store (a throwaway redis-server the test starts and kills).
if(TARGET lt::adapter_redis)
  lt_add_test(NAME integration_redis_test
    SOURCES integration/redis_kv_test.cpp
    LIBS lt_app PkgConfig::HIREDIS)
  target_include_directories(integration_redis_test PRIVATE ${PROJECT_SOURCE_DIR}/src/adapters/redis)
endif()
