#include "tiers.hpp"

#include <algorithm>
#include <cmath>

#include "lt/core/time.hpp"

namespace lt::token {

namespace {
Tier to_tier(const TierLevel& l) {
    return Tier{l.name, l.capacity_multiplier, l.leak_rate_multiplier, l.quota_max_tokens};
}
}  // namespace

Tier resolve_tier(const TiersConfig& tiers, const std::vector<std::string>& roles) {
    if (tiers.levels.empty()) return Tier{};
    const TierLevel* best = nullptr;
    for (const auto& role : roles) {
        std::string name = to_upper(role);
        if (name.rfind("ROLE_", 0) == 0) name = name.substr(5);
        auto it = tiers.levels.find(name);
        if (it != tiers.levels.end() && (!best || it->second.priority > best->priority)) best = &it->second;
    }
    if (best) return to_tier(*best);
    auto def = tiers.levels.find(tiers.default_tier);
    return def == tiers.levels.end() ? Tier{} : to_tier(def->second);
}

BucketParams scale(const BucketParams& base, const Tier& tier) {
    BucketParams p = base;
    if (tier.capacity_multiplier > 0) {
        p.capacity = std::max<std::int64_t>(1, std::llround(static_cast<double>(base.capacity) * tier.capacity_multiplier));
    }
    if (tier.leak_rate_multiplier > 0) p.rate_per_second = std::max(0.0001, base.rate_per_second * tier.leak_rate_multiplier);
    return p;
}

}  // namespace lt::token
