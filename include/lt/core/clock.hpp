#pragma once
/// Clock port: wall and monotonic time. Production uses SystemClock; tests use FakeClock.

#include <atomic>
#include <chrono>

namespace lt {

/// Source of time. Implementations are thread-safe; any thread may call them.
class Clock {
public:
    virtual ~Clock() = default;
    /// Wall-clock time (UTC), for timestamps and time windows.
    virtual std::chrono::system_clock::time_point now() const = 0;
    /// Monotonic time, for deadlines and durations.
    virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

/// The real clocks.
class SystemClock final : public Clock {
public:
    std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
    std::chrono::steady_clock::time_point steady_now() const override { return std::chrono::steady_clock::now(); }
};

/// A clock that moves only when told to. Both readings advance together.
class FakeClock final : public Clock {
public:
    /// Starts at the given wall time (default: 2026-01-01T00:00:00Z).
    explicit FakeClock(std::chrono::system_clock::time_point start =
                           std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)))
        : offset_ns_(0), wall_start_(start) {}

    std::chrono::system_clock::time_point now() const override {
        return wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                 std::chrono::nanoseconds(offset_ns_.load()));
    }
    std::chrono::steady_clock::time_point steady_now() const override {
        return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(offset_ns_.load()));
    }
    /// Moves both clocks forward by `d`.
    void advance(std::chrono::nanoseconds d) { offset_ns_ += d.count(); }

private:
    std::atomic<long long> offset_ns_;  ///< atomic: read by any thread
    std::chrono::system_clock::time_point wall_start_;
};

}  // namespace lt
