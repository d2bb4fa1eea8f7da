lt_add_test(NAME token_unit_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/token_unit_test.cpp LIBS lt::token)
target_include_directories(token_unit_test PRIVATE ${PROJECT_SOURCE_DIR}/modules/token/src)
