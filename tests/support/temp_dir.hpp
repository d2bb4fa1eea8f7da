#pragma once
/// A fresh temporary directory for a test, removed with the object.

#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

namespace lt::test {

class TempDir {
public:
    /// `prefix` names the directory (lt-<prefix>-<random>) so a leftover is easy to trace.
    TempDir(std::string_view prefix = "test") {  // NOLINT: implicit, so `TempDir dir{"sql"}` reads naturally
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("lt-" + std::string(prefix) + "-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace lt::test
