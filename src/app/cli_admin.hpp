#pragma once
/// The CLI's admin verbs against a running server, over the public API (docs/admin.md):
/// users, keys, quotas, orgs, purchases. Blocking; called from main only.

#include <string>
#include <vector>

namespace lt::app {

/// True when args[0] is one of the admin nouns this file handles.
bool is_admin_command(const std::string& noun);

/// Runs `leaky-tokens <noun> <verb> [flags]`; returns an Exit code (cli_common.hpp).
int run_admin_command(const std::vector<std::string>& args);

}  // namespace lt::app
