lt_add_test(NAME providers_test SOURCES ${PROJECT_SOURCE_DIR}/modules/providers/tests/providers_test.cpp LIBS lt::providers)
target_include_directories(providers_test PRIVATE ${PROJECT_SOURCE_DIR}/modules/providers/src)
