# Crypto helpers and JWT (src/core/crypto.cpp, src/core/jwt.cpp).
target_sources(lt_core PRIVATE crypto.cpp aead.cpp jwt.cpp cluster.cpp)
