#pragma once
/// The port check `serve` runs before any module opens the data directory: a port already in use is
/// one line naming the port and, when /proc tells, the process holding it.

#include <cstdint>
#include <optional>
#include <string>

namespace lt::app {

/// Binds (SO_REUSEADDR, as the server's acceptor does) and releases `address`:`port`. nullopt when
/// the bind works or port is 0; otherwise the message, e.g. "port 8080 on 0.0.0.0 is already in use
/// (by pid 4242, leaky-tokens)". Blocking; called from main before any thread starts.
std::optional<std::string> port_problem(const std::string& address, std::uint16_t port);

}  // namespace lt::app
