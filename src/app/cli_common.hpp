#pragma once
/// Shared by the CLI's commands: exit codes and the usage-error line.

#include <string>

namespace lt::app {

/// Exit codes a script can rely on (docs/admin.md).
enum Exit : int {
    kExitOk = 0,           ///< done
    kExitRefused = 1,      ///< the server (or the configuration) refused: 4xx/5xx other than below, bad config
    kExitUsage = 2,        ///< bad command line
    kExitUnreachable = 3,  ///< no answer from --url (connection refused, timeout, bad URL)
    kExitAuth = 4,         ///< 401/403: no token, a bad token, or not allowed
    kExitNotFound = 5,     ///< 404: the user, key, org, quota or saga does not exist
};

/// Prints "error: <msg>" and one line pointing to `leaky-tokens help`; returns kExitUsage.
int usage_error(const std::string& msg);

}  // namespace lt::app
