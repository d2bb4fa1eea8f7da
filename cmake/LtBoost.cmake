# Asio and Beast are compiled once for the whole build (separate compilation), which keeps every
# other translation unit free of their implementation and cuts the clean-build time.
add_library(lt_boost STATIC ${PROJECT_SOURCE_DIR}/src/core/boost_impl.cpp)
target_compile_definitions(lt_boost PUBLIC
  BOOST_ASIO_SEPARATE_COMPILATION
  BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED
  BOOST_ASIO_DISABLE_BOOST_COROUTINE)
target_link_libraries(lt_boost PUBLIC Boost::headers Boost::json Threads::Threads OpenSSL::SSL OpenSSL::Crypto)
add_library(lt::boost ALIAS lt_boost)
