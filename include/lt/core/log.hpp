#pragma once
/// Logging: one named spdlog logger per module, handed out through the ModuleContext.

#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace lt {

using Logger = std::shared_ptr<spdlog::logger>;

/// Creates a logger writing to stderr with the process-wide pattern. `level`: trace..off.
Logger make_logger(const std::string& name, const std::string& level = "info");

}  // namespace lt
