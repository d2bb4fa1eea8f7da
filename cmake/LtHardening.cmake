# Issue 15 item 8: sanitizer and fuzzing builds, as CMake options (never hand-set flags).
#
#   -DLT_SANITIZE=ON (or a list such as address,undefined): AddressSanitizer + UndefinedBehaviorSanitizer
#     over every target (libraries and tests), -O1 with frame pointers; any UBSan report aborts.
#   -DLT_FUZZ=ON (clang only): every library instrumented for libFuzzer (fuzzer-no-link) with ASan +
#     UBSan, and the fuzz targets of fuzz/ built (see fuzz/README.md).
set(LT_SANITIZE "OFF" CACHE STRING "Sanitizers for every target: OFF, ON (= address,undefined) or a list")
option(LT_FUZZ "Build the libFuzzer targets of fuzz/ (needs clang)" OFF)

set(LT_SANITIZER_LIST "")
if(LT_SANITIZE AND NOT LT_SANITIZE STREQUAL "OFF")
  if(LT_SANITIZE STREQUAL "ON" OR LT_SANITIZE STREQUAL "1" OR LT_SANITIZE STREQUAL "TRUE")
    set(LT_SANITIZER_LIST "address,undefined")
  else()
    set(LT_SANITIZER_LIST "${LT_SANITIZE}")
  endif()
endif()
if(LT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LT_FUZZ=ON needs clang (cmake -DCMAKE_CXX_COMPILER=clang++ ...)")
  endif()
  set(LT_SANITIZER_LIST "address,undefined")
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
if(LT_SANITIZER_LIST)
  message(STATUS "Sanitizers: ${LT_SANITIZER_LIST}")
  add_compile_options(-fsanitize=${LT_SANITIZER_LIST} -fno-omit-frame-pointer -fno-sanitize-recover=undefined -O1 -g)
  add_link_options(-fsanitize=${LT_SANITIZER_LIST})
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # clang 14: UBSan's -fsanitize=function emits prologue data that the coroutine split cannot place
    # ("Cannot represent a difference across sections"); every other UBSan check stays on.
    add_compile_options(-fno-sanitize=function)
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # g++ 12 -O1 with ASan raises -Wmaybe-uninitialized/-Wstringop and, on coroutine frames,
    # -Wmismatched-new-delete false positives under -Werror.
    add_compile_options(-Wno-maybe-uninitialized -Wno-stringop-overflow -Wno-array-bounds -Wno-mismatched-new-delete)
  endif()
endif()
