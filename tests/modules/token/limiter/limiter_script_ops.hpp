#pragma once
/// Random operations on the six limiter scripts and their native results, shared by the Lua twin
/// test (lua5.4 with a stub of redis.call) and the real Redis test: a random sequence of operations
/// (all six scripts, shared keys, tier and strategy changes, clock steps both ways, extreme bounds).

#include <cstdint>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "limiter/rate_limiter.hpp"

namespace lt::token::testing {

/// Operations per random sequence.
inline constexpr int kOperations = 2000;

/// One script call.
struct Operation {
    int script = 0;  ///< 0..2 acquire leaky/token/window, 3..5 refund leaky/token/window
    std::string key;
    std::vector<std::int64_t> args;  ///< including the ttl, last
};

/// Scripts 0..2: acquire leaky/token/window; 3..5: their refunds.
inline const lt::ports::AtomicScript& script_of(int index) {
    static constexpr Strategy kStrategies[] = {Strategy::leaky_bucket, Strategy::token_bucket,
                                               Strategy::fixed_window};
    return index < 3 ? RateLimiter::script(kStrategies[index]) : RateLimiter::refund_script(kStrategies[index - 3]);
}

/// One of `options`, uniformly.
template <class T>
T pick(std::mt19937_64& rng, const std::vector<T>& options) {
    return options[rng() % options.size()];
}

/// kOperations random calls from `seed` on keys k0..k3 (the same sequence for the same seed).
inline std::vector<Operation> random_operations(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const std::vector<std::int64_t> capacities = {1, 5, 10, 1000, 2000, 123457, kMaxTokens};
    const std::vector<std::int64_t> rates = {0, 1, 7, 333, 10000, 20000, 333333, kMaxRateUnits};
    const std::vector<std::int64_t> windows = {1000, 60000, 3600000, lt::token::kMaxWindowSeconds * 1000};
    const std::vector<std::int64_t> steps = {0, 0, 0, 1, 7, 30, 50, 99, 250, 1000, 4321, 60000, -1, -900, -59000, -60000, -60001, -7200000, 36000000};
    std::int64_t now = 1767225600000;
    std::vector<Operation> ops;
    for (int i = 0; i < kOperations; ++i) {
        Operation op;
        op.script = static_cast<int>(rng() % 6);
        op.key = pick(rng, std::vector<std::string>{"k0", "k1", "k2", "k3"});
        now += pick(rng, steps);
        const std::int64_t capacity = pick(rng, capacities);
        const std::int64_t third = op.script % 3 == 2 ? pick(rng, windows) : pick(rng, rates);
        std::int64_t tokens = 0;
        switch (rng() % 4) {
            case 0: tokens = static_cast<std::int64_t>(rng() % 6); break;
            case 1: tokens = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(capacity + 1)); break;
            case 2: tokens = std::min<std::int64_t>(capacity + static_cast<std::int64_t>(rng() % 3), kMaxTokens); break;
            default: tokens = pick(rng, std::vector<std::int64_t>{0, 1, kMaxTokens}); break;
        }
        op.args = {now, capacity, third, tokens};
        if (op.script == 5) op.args.push_back(now - static_cast<std::int64_t>(rng() % 90000));
        op.args.push_back(21600000 + static_cast<std::int64_t>(rng() % 1000));  // ttl
        ops.push_back(std::move(op));
    }
    return ops;
}

/// How many operations reached each kind of outcome (the random sequence must cover them all).
struct Coverage {
    int allowed = 0;
    int denied = 0;
    int denied_forever = 0;
    int refunds_applied = 0;
};

/// What the native scripts reply and store, one line per operation, in the driver's format.
inline std::vector<std::string> run_native(const std::vector<Operation>& ops, Coverage& coverage) {
    std::map<std::string, lt::ports::KvState> store;
    std::vector<std::string> lines;
    for (const auto& op : ops) {
        lt::ports::KvState& state = store[op.key];
        const std::span<const std::int64_t> args(op.args.data(), op.args.size() - 1);  // the store keeps the ttl
        const std::vector<std::int64_t> reply = script_of(op.script).native(state, args);
        if (op.script < 3) {
            if (reply[0] == 1) ++coverage.allowed;
            else if (reply[3] < 0) ++coverage.denied_forever;
            else ++coverage.denied;
        } else if (reply[0] == 1) {
            ++coverage.refunds_applied;
        }
        std::ostringstream line;
        for (std::size_t i = 0; i < reply.size(); ++i) line << (i ? " " : "") << reply[i];
        line << " |";
        if (state.exists) {
            for (std::int64_t field : state.fields) line << ' ' << field;
        } else {
            line << " -";
            store.erase(op.key);
        }
        lines.push_back(line.str());
    }
    return lines;
}

}  // namespace lt::token::testing
