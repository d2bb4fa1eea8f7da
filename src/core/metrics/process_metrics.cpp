// Process metrics from /proc/self (Linux), computed when /actuator/prometheus is scraped.
#include "lt/core/process_metrics.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include "lt/core/metrics.hpp"

namespace lt {
namespace {

/// Fields of /proc/self/stat after the command name (field 3 onwards), or empty on failure.
std::vector<std::string> stat_fields() {
    std::ifstream in("/proc/self/stat");
    std::string line;
    std::getline(in, line);
    // The command name is in parentheses and may hold spaces: parse after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) return {};
    std::istringstream rest(line.substr(close + 1));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;) fields.push_back(std::move(f));
    return fields;
}

double field(const std::vector<std::string>& f, std::size_t stat_index) {
    // stat_index is the 1-based field number of proc(5); f[0] is field 3.
    const std::size_t i = stat_index - 3;
    if (i >= f.size()) return 0;
    return std::strtod(f[i].c_str(), nullptr);
}

double boot_time_seconds() {
    std::ifstream in("/proc/stat");
    for (std::string key; in >> key;) {
        if (key == "btime") {
            double v = 0;
            in >> v;
            return v;
        }
        in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    return 0;
}

}  // namespace

void register_process_metrics(MetricsRegistry& metrics) {
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    // The start time is fixed: computed once (boot time + starttime ticks).
    const double start = boot_time_seconds() + field(stat_fields(), 22) / ticks;
    metrics.callback_family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
                            MetricType::counter, {}, [ticks] {
                                auto f = stat_fields();
                                return std::vector<CallbackSample>{{{}, (field(f, 14) + field(f, 15)) / ticks}};
                            });
    metrics.callback_family("process_resident_memory_bytes", "Resident memory size in bytes", MetricType::gauge, {},
                            [page] {
                                return std::vector<CallbackSample>{{{}, field(stat_fields(), 24) * page}};
                            });
    metrics.callback_family("process_virtual_memory_bytes", "Virtual memory size in bytes", MetricType::gauge, {},
                            [] {
                                return std::vector<CallbackSample>{{{}, field(stat_fields(), 23)}};
                            });
    metrics.callback_family("process_threads", "OS threads of the process", MetricType::gauge, {}, [] {
        return std::vector<CallbackSample>{{{}, field(stat_fields(), 20)}};
    });
    metrics.callback_family("process_open_fds", "Number of open file descriptors", MetricType::gauge, {}, [] {
        std::error_code ec;
        double n = 0;
        for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) {
            ++n;
        }
        return std::vector<CallbackSample>{{{}, n}};
    });
    metrics.callback_family("process_max_fds", "Maximum number of open file descriptors", MetricType::gauge, {}, [] {
        rlimit rl{};
        ::getrlimit(RLIMIT_NOFILE, &rl);
        return std::vector<CallbackSample>{{{}, static_cast<double>(rl.rlim_cur)}};
    });
    metrics.callback_family("process_start_time_seconds", "Start time of the process since unix epoch in seconds",
                            MetricType::gauge, {}, [start] { return std::vector<CallbackSample>{{{}, start}}; });
}

}  // namespace lt
