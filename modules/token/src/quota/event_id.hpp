#pragma once
/// Time-ordered event ids for outbox rows (header-only).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace lt::token {

/// A new UUID version 7 (RFC 9562) in lower-case canonical form: 48 bits of Unix time in milliseconds
/// (system clock), then 74 random bits. Ids made later sort later (within a millisecond, in any
/// order), so token_outbox's unique index on `id` grows at its end instead of at random pages: with
/// random (v4) ids every group-committed batch dirtied many index pages, and settles ran about half
/// as fast. Thread-safe (one generator per thread).
inline std::string new_event_id() {
    thread_local std::mt19937_64 rng([] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd()};
        return std::mt19937_64(seq);
    }());
    const auto ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    // 48-bit time | version 7 | 12 random bits ; variant 0b10 | 62 random bits.
    const std::uint64_t hi = (ms << 16) | 0x7000u | (rng() & 0x0fffu);
    const std::uint64_t lo = (rng() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(36, '-');
    std::size_t pos = 0;
    for (const std::uint64_t half : {hi, lo}) {
        for (int shift = 60; shift >= 0; shift -= 4) {
            if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
            out[pos++] = kHex[(half >> shift) & 0xf];
        }
    }
    return out;
}

}  // namespace lt::token
