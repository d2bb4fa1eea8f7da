lt_add_test(NAME config_server_test
  SOURCES
    ${PROJECT_SOURCE_DIR}/modules/config/tests/config_repository_test.cpp
    ${PROJECT_SOURCE_DIR}/modules/config/tests/config_module_test.cpp
  LIBS lt::config_server)
target_include_directories(config_server_test PRIVATE ${PROJECT_SOURCE_DIR}/modules/config/src)
