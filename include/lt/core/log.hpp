#pragma once
/// Logging: one named spdlog logger per module, handed out through the ModuleContext.
///
/// Format (`log.format`): `text` (`<ts> <level> [<logger>] <message>`) or `json` (one object per line:
/// ts, level, logger, msg, and each `key=value` of the message as a field). Level: `log.level`, or
/// `log.modules.<logger>` for one logger. Everything goes to stderr, synchronously: an error line is
/// never dropped. The access log (`server.access-log`) is separate: buffered and written by a thread
/// of its own, so the I/O threads never wait for the disk or the pipe.

#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "lt/core/result.hpp"

namespace lt {
class MetricsRegistry;
namespace config {
class Config;
}

using Logger = std::shared_ptr<spdlog::logger>;

/// Creates a text logger writing to stderr. `level`: trace..off. Any thread.
Logger make_logger(const std::string& name, const std::string& level = "info");

/// The logger `name` as configured by `cfg` (log.format, log.level, log.modules.<name>). Any thread.
Logger make_logger(const std::string& name, const config::Config& cfg);

/// The server's logger: info lines (one per request) go to `target` ("stdout" or a file path,
/// appended) through a bounded in-memory queue drained by a writer thread; warnings and errors also go
/// to stderr synchronously. When the queue is full a line is dropped and counted in
/// `log_access_dropped_total` (never blocking the caller). `target` "off": a plain make_logger(cfg).
/// Start-up only; errors when the file cannot be opened.
Result<Logger> make_access_logger(const std::string& target, const config::Config& cfg, MetricsRegistry* metrics);

}  // namespace lt
