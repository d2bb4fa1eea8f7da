lt_add_test(NAME gateway_test SOURCES ${PROJECT_SOURCE_DIR}/modules/gateway/tests/route_map_test.cpp LIBS lt::gateway)
target_include_directories(gateway_test PRIVATE ${PROJECT_SOURCE_DIR}/modules/gateway/src)
