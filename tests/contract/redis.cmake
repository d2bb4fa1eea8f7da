# The key value store contract and the Redis adapter's own cases on a real Redis (LT_TEST_REDIS_URL;
# cases that stop or pause Redis start their own redis-server).
lt_add_test(NAME contract_redis_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/key_value_store_redis_test.cpp
  LIBS lt::adapter_redis PkgConfig::HIREDIS)
target_include_directories(contract_redis_test PRIVATE ${PROJECT_SOURCE_DIR}/src/adapters/redis)
