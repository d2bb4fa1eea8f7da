#pragma once
/// RSA keys shared by the crypto and JWT tests: generated once per test binary (2048-bit
/// generation takes ~100 ms each).

#include <cstdlib>

#include "lt/core/crypto.hpp"

namespace lt::test {

inline lt::crypto::RsaKey make_test_key() {
    auto key = lt::crypto::RsaKey::generate(2048);
    if (!key) std::abort();
    return *key;
}

/// The key the tests sign with.
inline const lt::crypto::RsaKey& test_key() {
    static const lt::crypto::RsaKey key = make_test_key();
    return key;
}

/// A second, unrelated key ("the attacker's").
inline const lt::crypto::RsaKey& foreign_key() {
    static const lt::crypto::RsaKey key = make_test_key();
    return key;
}

}  // namespace lt::test
