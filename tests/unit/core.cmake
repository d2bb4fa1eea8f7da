lt_add_test(NAME unit_core_test
  SOURCES
    unit/time_test.cpp
    unit/router_test.cpp
    unit/bus_test.cpp
    unit/typed_bus_test.cpp
    unit/http_message_test.cpp
    unit/cluster_kernel_test.cpp
    unit/json_text_test.cpp
    unit/json_test.cpp
  LIBS lt::core)
