lt_add_test(NAME auth_test
  SOURCES
    ${PROJECT_SOURCE_DIR}/modules/auth/tests/auth_service_test.cpp
    ${PROJECT_SOURCE_DIR}/modules/auth/tests/auth_http_test.cpp
    ${PROJECT_SOURCE_DIR}/modules/auth/tests/oauth2_test.cpp
  LIBS lt::auth lt::adapter_sqlite)
target_include_directories(auth_test PRIVATE ${PROJECT_SOURCE_DIR}/modules/auth/src ${PROJECT_SOURCE_DIR}/modules/auth/tests)
