#pragma once
/// Text files compiled into the binary (cmake/LtEmbed.cmake): (path relative to its base, content).

#include <string_view>
#include <utility>
#include <vector>

namespace lt::embedded {
/// config/**/*.yaml, paths relative to config/ ("leaky-tokens.yaml", "profiles/production.yaml").
std::vector<std::pair<std::string_view, std::string_view>> config_files();
/// migrations/**/*.sql, paths relative to migrations/ ("auth/sqlite/0001_users.sql").
std::vector<std::pair<std::string_view, std::string_view>> migration_files();
}  // namespace lt::embedded
