# Crypto helpers and JWT (src/core/crypto.cpp, src/core/jwt.cpp).
lt_add_test(NAME unit_crypto_test
  SOURCES
    unit/crypto_test.cpp
    unit/jwt_test.cpp
    unit/cluster_test.cpp
  LIBS lt::core)
