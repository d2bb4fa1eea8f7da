#pragma once
/// Password hashing with bcrypt (cost 10) through libxcrypt. Every function here takes ~50 ms of CPU:
/// call them on the blocking pool, never on an I/O thread. Thread-safe.

#include <cstddef>
#include <string>
#include <string_view>

#include "lt/core/result.hpp"

namespace lt::auth {

/// bcrypt reads at most 72 bytes; longer passwords are refused, never truncated (CONTRACT.md 11).
inline constexpr std::size_t kMaxPasswordBytes = 72;
/// bcrypt work factor (the original's BCrypt strength).
inline constexpr int kBcryptCost = 10;

/// A fresh "$2b$10$..." hash of `password` (random salt). Errc::invalid_argument when the password
/// is longer than kMaxPasswordBytes or holds a NUL byte; Errc::internal when libxcrypt fails.
Result<std::string> hash_password(std::string_view password);

/// True when `password` matches `hash` (constant-time comparison of the crypt output). False for a
/// malformed hash or an unusable password.
bool verify_password(std::string_view password, std::string_view hash);

/// Spends the time of one verify_password against a fixed hash and returns false. Used when the
/// user (or client) does not exist, so that response times do not reveal it.
bool verify_dummy(std::string_view password);

/// True for a syntactically valid bcrypt hash ($2a$/$2b$/$2y$, 60 characters).
bool looks_like_bcrypt(std::string_view hash);

}  // namespace lt::auth
