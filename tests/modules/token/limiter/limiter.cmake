# The token module's rate limiter and its tests (the library itself is defined in modules/token/CMakeLists.txt).

lt_add_test(NAME token_limiter_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/rate_limiter_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/rate_limiter_concurrency_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/rate_limiter_lua_test.cpp
  LIBS lt_token_limiter lt::adapter_memory)

# The same scripts on a real Redis (LT_TEST_REDIS_URL) through the Redis adapter.
if(TARGET lt::adapter_redis)
  lt_add_test(NAME token_limiter_redis_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/rate_limiter_redis_test.cpp
    LIBS lt_token_limiter lt::adapter_redis PkgConfig::HIREDIS)
  target_include_directories(token_limiter_redis_test PRIVATE ${PROJECT_SOURCE_DIR}/src/adapters/redis)
endif()
