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
    integration/openai_test.cpp
    integration/openai_upstream_test.cpp
    integration/registry_config_test.cpp
    integration/refresh_test.cpp
  LIBS lt_app)
add_dependencies(integration_test leaky-tokens)

# The same scenarios once more on PostgreSQL: scripts/run-with-env.sh gives the run a fresh database of
# the test server (LT_TEST_POSTGRES_URL or build/test-servers.env) and selects it through
# LT_TEST_EXTRA_SET; every TestApp then works in a schema of its own. Skipped (77) without a server.
if(LT_WITH_POSTGRES)
  target_compile_definitions(integration_test PRIVATE LT_WITH_POSTGRES=1)
  add_test(NAME integration_test_postgres
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/run-with-env.sh $<TARGET_FILE:integration_test>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(integration_test_postgres PROPERTIES TIMEOUT 1800 SKIP_RETURN_CODE 77)
  # And on the whole production profile. Left out: the /v1 metering cases read the embedded event
  # log's "token-usage" topic directly (on Kafka every TestApp has topics of its own), and "within 2
  # seconds" is the memory log's latency (a new Kafka group's first join alone takes ~3 s on the mock).
  lt_add_production_run(TARGET integration_test TIMEOUT 2400 REDIS_DB 3
    ARGS "--test-case-exclude=*charges exactly its usage*,*the bucket cannot admit*,*is SSE with the usage chunk*,*disconnects mid-stream*,*upstream failure mid-stream*,*within 2 seconds*")
endif()
# The app on a Redis key-value store (a throwaway redis-server the test starts and kills).
if(TARGET lt::adapter_redis)
  lt_add_test(NAME integration_redis_test
    SOURCES integration/redis_kv_test.cpp
    LIBS lt_app PkgConfig::HIREDIS)
  target_include_directories(integration_redis_test PRIVATE ${PROJECT_SOURCE_DIR}/src/adapters/redis)
endif()

# The official openai npm client (tests/openai-client, installed by scripts/setup.sh with npm ci)
# against a running `leaky-tokens serve`. Skipped (77) with a message when node or the client is missing.
add_test(NAME openai_npm_client_test
  COMMAND ${PROJECT_SOURCE_DIR}/tests/openai-client/run.sh $<TARGET_FILE:leaky-tokens>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(openai_npm_client_test PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)

# Live upstream streaming of /v1/chat/completions against a fake OpenAI-compatible upstream (HTTP and
# HTTPS), keep-alive, fallbacks, and 32 concurrent live streams on one pool (LT_STREAM_LOOPS loops).
lt_add_test(NAME openai_stream_test
  SOURCES integration/openai_stream_test.cpp
  LIBS lt_app)
if(LT_WITH_POSTGRES)
  target_compile_definitions(openai_stream_test PRIVATE LT_WITH_POSTGRES=1)
  add_test(NAME openai_stream_test_postgres
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/run-with-env.sh $<TARGET_FILE:openai_stream_test>
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(openai_stream_test_postgres PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
endif()

# POST /actuator/refresh applying provider settings (providers.*, token.provider.*) against fake
# OpenAI-compatible upstreams: new upstream, key and limit for the next request, in-flight requests
# keep theirs, the replaced upstream's keep-alive pool is dropped.
lt_add_test(NAME provider_refresh_test
  SOURCES integration/provider_refresh_test.cpp
  LIBS lt_app)
