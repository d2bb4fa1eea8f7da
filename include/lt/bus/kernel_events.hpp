#pragma once
/// Events of the kernel itself (every process hosts the kernel).

#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "lt/bus/bus.hpp"

namespace lt::bus {

/// Event kConfigChanged: a process applied a refreshed configuration (POST /actuator/refresh).
struct ConfigChanged {
    std::vector<std::string> keys;  ///< the keys it applied (names only, never values)
    std::string origin;             ///< id of the announcing process (it ignores its own event)
    bool operator==(const ConfigChanged&) const = default;
};

/// Event: configuration changed — every other process re-fetches `config.url`, re-reads its local
/// configuration and applies the refreshable keys (docs/configuration.md, "Refresh").
inline constexpr Event<ConfigChanged> kConfigChanged{"config.changed.v1"};

void tag_invoke(json::value_from_tag, json::value& v, const ConfigChanged& m);
ConfigChanged tag_invoke(json::value_to_tag<ConfigChanged>, const json::value& v);

}  // namespace lt::bus
