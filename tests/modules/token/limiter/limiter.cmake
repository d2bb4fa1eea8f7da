# The token module's rate limiter and its tests (the library itself is defined in modules/token/CMakeLists.txt).

lt_add_test(NAME token_limiter_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/rate_limiter_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/rate_limiter_concurrency_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/rate_limiter_lua_test.cpp
  LIBS lt_token_limiter lt::adapter_memory)
