#include "lt/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace lt {

Logger make_logger(const std::string& name, const std::string& level) {
    // One shared stderr sink so lines from different modules never interleave mid-line.
    static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [%n] %v", spdlog::pattern_time_type::utc);
    logger->set_level(spdlog::level::from_str(level));
    return logger;
}

}  // namespace lt
