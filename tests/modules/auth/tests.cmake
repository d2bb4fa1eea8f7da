lt_add_test(NAME auth_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/auth_service_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/auth_http_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/oauth2_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/hardening_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/login_limiter_lua_test.cpp
  LIBS lt::auth lt::adapter_sqlite lt::adapter_memory)
target_include_directories(auth_test PRIVATE ${PROJECT_SOURCE_DIR}/modules/auth/src ${CMAKE_CURRENT_LIST_DIR})
