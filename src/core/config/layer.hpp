#pragma once
/// Private to the config loader: one configuration source (a YAML file, LEAKY_SET, --set) flattened to
/// dotted keys, before validation and merging.

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

/// Splits `text` at `separator`, trimming each part; empty parts are dropped.
std::vector<std::string> split_trimmed(std::string_view text, char separator);

}  // namespace lt::config::detail
