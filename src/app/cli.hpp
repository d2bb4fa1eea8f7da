#pragma once
/// The command line: `leaky-tokens serve | version | config check FILE | help`.

#include <string>
#include <vector>

namespace lt::app {

/// Exit codes: 0 success, 1 runtime or configuration error, 2 usage error.
int run_cli(const std::vector<std::string>& args);

}  // namespace lt::app
