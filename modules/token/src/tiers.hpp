#pragma once
/// Tier resolution (seed-behavior.md §4.4): the matching level with the highest priority wins; no
/// match → the default tier; no levels → a neutral tier.

#include <optional>
#include <string>
#include <vector>

#include "limiter/rate_limiter.hpp"
#include "token_config.hpp"

namespace lt::token {

struct Tier {
    std::string name;                          ///< "" for the neutral tier
    double capacity_multiplier = 1.0;
    double leak_rate_multiplier = 1.0;
    std::optional<std::int64_t> quota_cap;     ///< cap of a user pool's allowance
};

/// The tier of a principal with these roles ("ADMIN", "USER", optionally "ROLE_"-prefixed).
Tier resolve_tier(const TiersConfig& tiers, const std::vector<std::string>& roles);

/// Bucket parameters scaled by a tier: C' = max(1, round(C × capMult)), r' = max(0.0001, r × leakMult).
BucketParams scale(const BucketParams& base, const Tier& tier);

}  // namespace lt::token
