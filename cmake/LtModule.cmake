# lt_add_module(NAME <name> SOURCES <files...> [API_SOURCES <files...>] [API_DEPS <other module names...>])
#
# Builds two targets for a module:
#   lt_<name>_api  its contract: modules/<name>/include (DTOs, topics, factory). INTERFACE, or STATIC
#                  when the contract has compiled code (API_SOURCES: DTO codecs other modules call).
#   lt_<name>      STATIC  its implementation, linking only lt::core and other modules' _api targets
function(lt_add_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;API_SOURCES;API_DEPS" ${ARGN})
  set(api lt_${M_NAME}_api)
  if(M_API_SOURCES)
    add_library(${api} STATIC ${M_API_SOURCES})
    target_include_directories(${api} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${api} PUBLIC lt::core)
    lt_set_warnings(${api})
  else()
    add_library(${api} INTERFACE)
    target_include_directories(${api} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${api} INTERFACE lt::core)
  endif()
  add_library(lt::${M_NAME}_api ALIAS ${api})

  add_library(lt_${M_NAME} STATIC ${M_SOURCES})
  target_include_directories(lt_${M_NAME} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(lt_${M_NAME} PUBLIC ${api})
  foreach(dep IN LISTS M_API_DEPS)
    target_link_libraries(lt_${M_NAME} PUBLIC lt::${dep}_api)
  endforeach()
  lt_set_warnings(lt_${M_NAME})
  add_library(lt::${M_NAME} ALIAS lt_${M_NAME})
endfunction()
