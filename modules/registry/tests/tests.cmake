lt_add_test(NAME registry_test
  SOURCES
    ${PROJECT_SOURCE_DIR}/modules/registry/tests/registry_service_test.cpp
    ${PROJECT_SOURCE_DIR}/modules/registry/tests/registry_module_test.cpp
  LIBS lt::registry)
target_include_directories(registry_test PRIVATE ${PROJECT_SOURCE_DIR}/modules/registry/src)
