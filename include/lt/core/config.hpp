#pragma once
/// Configuration: one YAML tree (embedded defaults ← file ← profile ← LEAKY_SET ← --set), validated
/// against a schema that every module contributes to. Any value of any layer may reference the
/// environment as `${VAR}` or `${VAR:default}` (`$${` is a literal `${`). Unknown keys and bad values are errors, all
/// reported at once. Modules parse their typed struct from the validated Config at start-up.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lt/core/result.hpp"

namespace lt::config {

enum class Type { string, integer, number, boolean, duration, string_list, enumeration };

/// One documented key. `pattern` is dotted; a `*` segment matches any one name
/// (`token.tiers.levels.*.priority`).
struct KeySpec {
    std::string pattern;
    Type type = Type::string;
    std::string description;
    std::optional<double> min;           ///< numbers, integers; durations in milliseconds
    std::optional<double> max;
    std::vector<std::string> choices;    ///< enumeration values (case-insensitive on input)
    bool secret = false;                 ///< never printed
};

/// The set of known keys. Filled by the kernel and each module's describe_config() at start-up.
class Schema {
public:
    void add(KeySpec spec);
    /// The spec whose pattern matches `key`, or nullptr.
    const KeySpec* find(std::string_view key) const;
    const std::vector<KeySpec>& keys() const { return keys_; }

private:
    std::vector<KeySpec> keys_;
};

/// A validated configuration: dotted key → scalar text or list. Read-only after load; any thread.
class Config {
public:
    bool has(std::string_view key) const;
    /// Typed getters. The key must be in the schema; `fallback` is returned when the key is unset.
    std::string get_string(std::string_view key, std::string fallback = {}) const;
    std::int64_t get_int(std::string_view key, std::int64_t fallback = 0) const;
    double get_double(std::string_view key, double fallback = 0) const;
    bool get_bool(std::string_view key, bool fallback = false) const;
    std::chrono::milliseconds get_duration(std::string_view key, std::chrono::milliseconds fallback = {}) const;
    std::vector<std::string> get_list(std::string_view key) const;
    /// Distinct names of the segment directly below `prefix`: children("token.tiers.levels") →
    /// {"ADMIN", "USER"}.
    std::vector<std::string> children(std::string_view prefix) const;
    /// Every set key, sorted (secret values are not hidden here; callers printing must check).
    const std::map<std::string, std::vector<std::string>, std::less<>>& entries() const { return values_; }

    /// Used by the loader: sets a scalar (one element) or a list.
    void set(std::string key, std::vector<std::string> values, bool is_list);
    bool is_list(std::string_view key) const;

private:
    std::map<std::string, std::vector<std::string>, std::less<>> values_;
    std::map<std::string, bool, std::less<>> lists_;
};

struct LoadOptions {
    std::optional<std::filesystem::path> file;   ///< --config (else LEAKY_CONFIG when read_env)
    std::optional<std::string> profile;          ///< --profile NAME → profiles/NAME.yaml
    std::vector<std::string> overrides;          ///< --set key=value, applied last
    /// key=value pairs fetched from the config module (config.url, CONTRACT 35): applied over the
    /// defaults, under --config, the profile, LEAKY_SET and --set (which win).
    std::vector<std::string> remote;
    bool read_env = true;                        ///< honour LEAKY_CONFIG and LEAKY_SET
    /// Resolves `${VAR}` / `${VAR:default}` in any value of any layer: the variable's value, or nullopt
    /// when unset (an empty value counts as unset). Empty function: the process environment.
    std::function<std::optional<std::string>(std::string_view)> environment;
    /// true: a variable unset and without default is an error naming it and the key (unless a later
    /// layer sets the key). false (config check): such a value is kept unchecked.
    bool require_variables = true;
};

/// Loads and validates. On failure the error message lists every problem, one per line, each naming
/// the dotted key.
Result<Config> load(const Schema& schema, const LoadOptions& options);

/// Validates a partial YAML file merged over the embedded defaults (`leaky-tokens config check`).
Result<Config> check_file(const Schema& schema, const std::filesystem::path& file);

/// The kernel's own keys (server.*, storage.*, log.*, cors.*, ...).
void describe_kernel(Schema& schema);

/// The embedded defaults (config/leaky-tokens.yaml compiled into the binary).
std::string_view embedded_defaults();

/// Validates every embedded file (defaults and built-in profiles) strictly against `schema`. load()
/// skips keys of the embedded files that `schema` does not know (modules not described in this
/// process); a test with the full schema calls this to keep the shipped files free of typos.
Result<void> check_embedded(const Schema& schema);

/// The backticked key patterns in the first cell of the markdown table rows of `markdown`
/// (docs/configuration.md), in document order. Used by tests to keep the documentation complete.
std::vector<std::string> documented_keys(std::string_view markdown);

}  // namespace lt::config
