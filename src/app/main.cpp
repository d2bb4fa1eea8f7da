// leaky-tokens: one executable hosting every module (see docs/architecture.md).
#include <string>
#include <vector>

#include "cli.hpp"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    return lt::app::run_cli(args);
}
