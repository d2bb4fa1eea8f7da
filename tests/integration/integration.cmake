lt_add_test(NAME integration_test
  SOURCES
    integration/server_test.cpp
    integration/providers_test.cpp
    integration/lifecycle_test.cpp
    integration/cli_test.cpp
    integration/auth_gateway_test.cpp
    integration/token_test.cpp
    integration/analytics_test.cpp
    integration/purchase_test.cpp
    integration/restart_test.cpp
    integration/auth_cost_bench.cpp
    integration/registry_config_test.cpp
  LIBS lt_app)
add_dependencies(integration_test leaky-tokens)
