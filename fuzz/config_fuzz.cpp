// libFuzzer target: the configuration loader — a YAML file laid over the embedded defaults, the same
// text split into `--set key=value` overrides, `${VAR:default}` references — validated against the
// kernel schema. Anything may be refused; nothing may crash, hang or read the environment.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include <unistd.h>

#include "lt/core/config.hpp"

namespace {

const lt::config::Schema& schema() {
    static const lt::config::Schema s = [] {
        lt::config::Schema x;
        lt::config::describe_kernel(x);
        return x;
    }();
    return s;
}

const std::filesystem::path& file() {
    static const std::filesystem::path p =
        std::filesystem::temp_directory_path() / ("lt-config-fuzz-" + std::to_string(::getpid()) + ".yaml");
    return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    {
        std::ofstream out(file(), std::ios::binary | std::ios::trunc);
        out << text;
    }
    lt::config::LoadOptions options;
    options.read_env = false;
    options.environment = [](std::string_view name) -> std::optional<std::string> {
        if (name == "LT_FUZZ_SET") return std::string("8081");
        return std::nullopt;
    };
    options.file = file();
    (void)lt::config::load(schema(), options);

    lt::config::LoadOptions sets;
    sets.read_env = false;
    sets.environment = options.environment;
    sets.require_variables = false;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line) && sets.overrides.size() < 64;) sets.overrides.push_back(line);
    (void)lt::config::load(schema(), sets);
    return 0;
}
