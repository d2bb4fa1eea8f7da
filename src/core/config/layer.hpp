#pragma once
/// Private to the config loader: one configuration source (a YAML file, LEAKY_SET, --set) flattened to
/// dotted keys, before validation and merging.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lt::config::detail {

/// What a flattened entry holds.
enum class EntryKind { scalar, list, null, map };

/// One dotted key of a source. `map` entries record every non-root mapping (empty or not) so that a
/// map given where a scalar is expected can be reported; they carry no value.
struct Entry {
    std::string key;
    EntryKind kind = EntryKind::scalar;
    std::vector<std::string> values;  ///< one element for scalars, the items for lists
    std::string origin;               ///< "file.yaml:3", "LEAKY_SET", "--set"
};

/// A flattened source plus the problems found while reading it (syntax errors, non-scalar items).
struct Layer {
    std::string name;  ///< file path or "LEAKY_SET" / "--set"
    std::vector<Entry> entries;
    std::vector<std::string> errors;
};

/// Parses YAML text named `name` (for messages) and flattens maps to dotted keys. Never throws.
Layer parse_yaml(std::string_view text, std::string name);

/// Parses "k=v" assignments (LEAKY_SET items or --set values). A value `~` means unset. Never throws.
Layer parse_assignments(const std::vector<std::string>& assignments, std::string name);

/// Looks up an environment variable: its value, or nullopt when it is unset or empty.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The outcome of expanding the variable references of one value.
struct Expansion {
    std::string text;                  ///< the value with every reference replaced (a missing one by "")
    std::vector<std::string> missing;  ///< variables unset (or empty) and without a default, in order
    std::string error;                 ///< what is wrong with a malformed reference; empty when none
};

/// Expands `${NAME}` and `${NAME:default}` in `value` (NAME: a letter or `_`, then letters, digits,
/// `_`; the default runs to the first `}` and may be empty). `$${` writes a literal `${`; any other
/// `$` is literal. Never throws; any thread.
Expansion expand_variables(std::string_view value, const EnvLookup& lookup);

/// Splits `text` at `separator`, trimming each part; empty parts are dropped.
std::vector<std::string> split_trimmed(std::string_view text, char separator);

}  // namespace lt::config::detail
