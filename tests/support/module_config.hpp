#pragma once
/// Configuration for a module test: the kernel keys plus one module's keys, defaults merged with
/// `overrides` ("key=value"), environment ignored.

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "lt/core/config.hpp"

namespace lt::test {

inline config::Config load_module_config(void (*describe)(config::Schema&), std::vector<std::string> overrides) {
    config::Schema schema;
    config::describe_kernel(schema);
    describe(schema);
    config::LoadOptions opts;
    opts.read_env = false;
    opts.overrides = std::move(overrides);
    auto cfg = config::load(schema, opts);
    REQUIRE_MESSAGE(cfg, (cfg ? "" : cfg.error().message));
    return *cfg;
}

}  // namespace lt::test
