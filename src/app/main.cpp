// leaky-tokens: one executable hosting every module (see docs/architecture.md).
#include <string>
#include <vector>

#include <sys/stat.h>

#include "cli.hpp"

int main(int argc, char** argv) {
    // Everything the server creates (data dir, SQLite files and their -wal/-shm, logs, keys) is the
    // owner's alone: directories 0700, files 0600 (issue 15 item 4).
    ::umask(077);
    std::vector<std::string> args(argv + 1, argv + argc);
    return lt::app::run_cli(args);
}
