// The configuration loader: reads the sources in merge order, validates every entry against the schema
// and merges them into one Config, collecting every problem instead of stopping at the first.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "config/layer.hpp"
#include "lt/core/config.hpp"
#include "lt/core/embedded.hpp"
#include "lt/core/time.hpp"

namespace lt::config {
namespace {

using detail::Entry;
using detail::EntryKind;
using detail::Layer;

struct Source {
    Layer layer;
    bool strict = true;  ///< false for the embedded files: keys of modules outside the schema are skipped
};

struct Value {
    std::vector<std::string> values;
    bool is_list = false;
    std::string unresolved;  ///< error for a variable that is unset and has no default; "" when resolved
};

/// How `${VAR}` references are resolved.
struct Variables {
    detail::EnvLookup lookup;  ///< the environment (or a test's stand-in)
    bool required = true;      ///< false: an unset variable without default leaves the value unchecked
};

detail::EnvLookup process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (value == nullptr || *value == '\0') return std::nullopt;
        return std::string(value);
    };
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
    return out;
}

std::string_view trim_view(std::string_view text) {
    const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

std::string format_bound(double value, Type type) {
    std::ostringstream out;
    if (std::floor(value) == value && std::fabs(value) < 1e15) {
        out << static_cast<long long>(value);
    } else {
        out << value;
    }
    if (type == Type::duration) out << "ms";
    return out.str();
}

std::string describe_type(const KeySpec& spec) {
    switch (spec.type) {
    case Type::string: return "a string";
    case Type::integer: return "an integer";
    case Type::number: return "a number";
    case Type::boolean: return "true or false";
    case Type::duration: return "a duration (500ms, 3s, 10m, 24h; a bare integer is seconds)";
    case Type::string_list: return "a list";
    case Type::enumeration: {
        std::string text = "one of ";
        for (std::size_t i = 0; i < spec.choices.size(); ++i) text += (i ? "|" : "") + spec.choices[i];
        return text;
    }
    }
    return "a value";
}

std::vector<std::string_view> segments(std::string_view text) {
    std::vector<std::string_view> parts;
    while (true) {
        const auto pos = text.find('.');
        parts.push_back(text.substr(0, pos));
        if (pos == std::string_view::npos) break;
        text.remove_prefix(pos + 1);
    }
    return parts;
}

/// True when `key` names a section: a proper prefix of some pattern.
bool is_section(const Schema& schema, std::string_view key) {
    const auto k = segments(key);
    for (const auto& spec : schema.keys()) {
        const auto p = segments(spec.pattern);
        if (p.size() <= k.size()) continue;
        bool match = true;
        for (std::size_t i = 0; i < k.size() && match; ++i) match = p[i] == "*" ? !k[i].empty() : p[i] == k[i];
        if (match) return true;
    }
    return false;
}

/// Parses and normalizes one scalar for `spec`; returns an error text (without key) on failure.
std::optional<std::string> check_scalar(const KeySpec& spec, std::string& value) {
    const std::string shown = spec.secret ? std::string("the value") : "'" + value + "'";
    std::optional<double> numeric;
    switch (spec.type) {
    case Type::string:
    case Type::string_list:
        return std::nullopt;
    case Type::integer: {
        std::string_view text = trim_view(value);
        if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
        std::int64_t parsed = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
            return shown + " is not an integer";
        }
        value = std::to_string(parsed);
        numeric = static_cast<double>(parsed);
        break;
    }
    case Type::number: {
        std::string_view text = trim_view(value);
        if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
        double parsed = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(parsed)) {
            return shown + " is not a number";
        }
        value = std::string(text);
        numeric = parsed;
        break;
    }
    case Type::boolean: {
        const std::string text = lower(trim_view(value));
        if (text != "true" && text != "false") return shown + " is not a boolean (true or false)";
        value = text;
        return std::nullopt;
    }
    case Type::duration: {
        const std::string_view text = trim_view(value);
        const auto parsed = parse_duration(text);
        if (!parsed) return shown + " is not a duration (500ms, 3s, 10m, 24h; a bare integer is seconds)";
        value = std::string(text);
        numeric = static_cast<double>(parsed->count());
        break;
    }
    case Type::enumeration: {
        const std::string text = lower(trim_view(value));
        for (const auto& choice : spec.choices) {
            if (lower(choice) == text) {
                value = choice;
                return std::nullopt;
            }
        }
        return shown + " is not " + describe_type(spec);
    }
    }
    if (numeric && spec.min && *numeric < *spec.min) {
        return shown + " is below the minimum " + format_bound(*spec.min, spec.type);
    }
    if (numeric && spec.max && *numeric > *spec.max) {
        return shown + " is above the maximum " + format_bound(*spec.max, spec.type);
    }
    return std::nullopt;
}

/// Validates layers against the schema and merges them in order.
class Merger {
public:
    Merger(const Schema& schema, Variables variables) : schema_(schema), variables_(std::move(variables)) {}

    void apply(const Source& source) {
        errors_.insert(errors_.end(), source.layer.errors.begin(), source.layer.errors.end());
        std::set<std::string, std::less<>> reported_maps;
        for (const auto& entry : source.layer.entries) apply_entry(entry, source.strict, reported_maps);
    }

    std::vector<std::string>& errors() { return errors_; }

    /// Adds the errors of values that still hold an unresolved variable after every layer.
    void finish() {
        for (const auto& [key, value] : merged_) {
            if (!value.unresolved.empty()) errors_.push_back(value.unresolved);
        }
    }

    Config build() const {
        Config config;
        for (const auto& [key, value] : merged_) config.set(key, value.values, value.is_list);
        return config;
    }

private:
    void error(const Entry& entry, const std::string& text) { errors_.push_back(text + " (in " + entry.origin + ")"); }

    void report_map(const Entry& entry, std::string_view key, const KeySpec& spec,
                    std::set<std::string, std::less<>>& reported) {
        if (!reported.emplace(key).second) return;
        error(entry, "key '" + std::string(key) + "' expects " + describe_type(spec) + ", not a map");
    }

    void apply_entry(const Entry& entry, bool strict, std::set<std::string, std::less<>>& reported_maps) {
        const KeySpec* spec = schema_.find(entry.key);
        if (entry.kind == EntryKind::map) {
            if (spec != nullptr) report_map(entry, entry.key, *spec, reported_maps);
            return;
        }
        if (spec == nullptr) {
            if (strict) report_unknown(entry, reported_maps);
            return;
        }
        if (entry.kind == EntryKind::null) {
            merged_.erase(entry.key);
            return;
        }
        if (entry.kind == EntryKind::list && spec->type != Type::string_list) {
            error(entry, "key '" + entry.key + "' expects " + describe_type(*spec) + ", not a list");
            return;
        }
        std::vector<std::string> values;
        std::string unresolved;
        for (const auto& raw : entry.values) {
            auto expansion = detail::expand_variables(raw, variables_.lookup);
            if (!expansion.error.empty()) {
                error(entry, "key '" + entry.key + "': " + expansion.error);
                return;
            }
            if (!expansion.missing.empty() && unresolved.empty()) {
                unresolved = "key '" + entry.key + "': environment variable " + expansion.missing.front() +
                             " is not set and has no default (write ${" + expansion.missing.front() +
                             ":default}) (in " + entry.origin + ")";
            }
            values.push_back(std::move(expansion.text));
        }
        if (!unresolved.empty()) {
            // Reported after the last layer, so that a later layer may still set the key.
            merged_[entry.key] = Value{variables_.required ? std::vector<std::string>{} : entry.values,
                                       entry.kind == EntryKind::list,
                                       variables_.required ? std::move(unresolved) : std::string()};
            return;
        }
        switch (entry.kind) {
        case EntryKind::null:
            return;
        case EntryKind::list:
            merged_[entry.key] = Value{std::move(values), true, {}};
            return;
        case EntryKind::scalar: {
            if (spec->type == Type::string_list) {
                merged_[entry.key] = Value{detail::split_trimmed(values.front(), ','), true, {}};
                return;
            }
            std::string value = std::move(values.front());
            if (const auto problem = check_scalar(*spec, value)) {
                error(entry, "key '" + entry.key + "': " + *problem);
                return;
            }
            merged_[entry.key] = Value{{std::move(value)}, false, {}};
            return;
        }
        case EntryKind::map:
            return;
        }
    }

    void report_unknown(const Entry& entry, std::set<std::string, std::less<>>& reported_maps) {
        // A scalar key given children (`server.port.x: 1`) is reported once at the scalar key.
        for (auto dot = entry.key.find('.'); dot != std::string::npos; dot = entry.key.find('.', dot + 1)) {
            const std::string_view prefix = std::string_view(entry.key).substr(0, dot);
            if (const KeySpec* parent = schema_.find(prefix)) {
                report_map(entry, prefix, *parent, reported_maps);
                return;
            }
        }
        if (is_section(schema_, entry.key)) {
            if (entry.kind != EntryKind::null) {
                error(entry, "key '" + entry.key + "' is a section, not a value");
            }
            return;
        }
        error(entry, "unknown key '" + entry.key + "'" + suggestion(entry.key));
    }

    /// "; did you mean 'server.port'?" for the schema key closest to `key` (edit distance, a `*`
    /// segment taking the typed segment), or "" when nothing is close.
    std::string suggestion(const std::string& key) const {
        const auto typed = detail::split_trimmed(key, '.');
        std::string best;
        std::size_t best_distance = std::string::npos;
        for (const auto& spec : schema_.keys()) {
            auto parts = detail::split_trimmed(spec.pattern, '.');
            std::string candidate;
            for (std::size_t i = 0; i < parts.size(); ++i) {
                if (parts[i] == "*" && i < typed.size()) parts[i] = typed[i];
                candidate += (i ? "." : "") + parts[i];
            }
            const auto d = edit_distance(key, candidate);
            if (d < best_distance) {
                best_distance = d;
                best = candidate;
            }
        }
        if (best.empty() || best_distance > std::max<std::size_t>(2, key.size() / 3)) return {};
        return "; did you mean '" + best + "'?";
    }

    static std::size_t edit_distance(std::string_view a, std::string_view b) {
        std::vector<std::size_t> row(b.size() + 1);
        for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
        for (std::size_t i = 1; i <= a.size(); ++i) {
            std::size_t diagonal = row[0];
            row[0] = i;
            for (std::size_t j = 1; j <= b.size(); ++j) {
                const std::size_t above = row[j];
                row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
                diagonal = above;
            }
        }
        return row[b.size()];
    }

    const Schema& schema_;
    Variables variables_;
    std::map<std::string, Value, std::less<>> merged_;
    std::vector<std::string> errors_;
};

std::optional<std::string_view> embedded_file(std::string_view path) {
    for (const auto& [name, content] : embedded::config_files()) {
        if (name == path) return content;
    }
    return std::nullopt;
}

bool read_file(const std::filesystem::path& path, std::string& content, std::vector<std::string>& errors) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        errors.push_back("cannot read config file '" + path.string() + "': " +
                         (std::filesystem::exists(path, ec) ? "not a regular file" : "no such file"));
        return false;
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (!in && !in.eof()) {
        errors.push_back("cannot read config file '" + path.string() + "'");
        return false;
    }
    content = buffer.str();
    return true;
}

bool valid_profile_name(std::string_view name) {
    if (name.empty() || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.';
    });
}

/// Finds profiles/<name>.yaml next to the config file, then under ./config, then embedded.
void add_profile(std::vector<Source>& sources, std::vector<std::string>& errors, const std::string& name,
                 const std::optional<std::filesystem::path>& file) {
    if (!valid_profile_name(name)) {
        errors.push_back("invalid profile name '" + name + "' (letters, digits, '-', '_' and '.')");
        return;
    }
    const std::string file_name = name + ".yaml";
    std::vector<std::filesystem::path> candidates;
    if (file) {
        const auto dir = file->parent_path();
        candidates.push_back((dir.empty() ? std::filesystem::path(".") : dir) / "profiles" / file_name);
    }
    const auto shipped = std::filesystem::path("config") / "profiles" / file_name;
    candidates.push_back(shipped);
    std::error_code ec;
    for (const auto& candidate : candidates) {
        if (!std::filesystem::is_regular_file(candidate, ec)) continue;
        std::string content;
        if (read_file(candidate, content, errors)) {
            // The shipped profiles are the embedded ones (checked strictly by check_embedded): like
            // them, their keys of modules this process does not describe (auth.* in a process without
            // auth) are skipped, not errors.
            sources.push_back({detail::parse_yaml(content, candidate.string()), candidate != shipped});
        }
        return;
    }
    if (const auto content = embedded_file("profiles/" + file_name)) {
        sources.push_back({detail::parse_yaml(*content, "built-in profiles/" + file_name), false});
        return;
    }
    std::set<std::string> known;
    for (const auto& [path, content] : embedded::config_files()) {
        const std::string_view p = path;
        if (p.rfind("profiles/", 0) == 0 && p.size() > 14 && p.substr(p.size() - 5) == ".yaml") {
            known.emplace(p.substr(9, p.size() - 14));
        }
    }
    std::string looked;
    for (const auto& candidate : candidates) {
        looked += candidate.string() + ", ";
        for (const auto& item : std::filesystem::directory_iterator(candidate.parent_path(), ec)) {
            if (item.path().extension() == ".yaml") known.insert(item.path().stem().string());
        }
    }
    std::string names;
    for (const auto& known_name : known) names += (names.empty() ? "" : ", ") + known_name;
    errors.push_back("unknown profile '" + name + "' (known profiles: " + (names.empty() ? "none" : names) +
                     "; looked in " + looked + "and the built-in profiles)");
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) {
        if (!text.empty()) text += '\n';
        text += line;
    }
    return text;
}

}  // namespace

Result<Config> load(const Schema& schema, const LoadOptions& options) {
    std::vector<Source> sources;
    std::vector<std::string> errors;
    sources.push_back({detail::parse_yaml(embedded_defaults(), "built-in leaky-tokens.yaml"), false});
    if (!options.remote.empty()) sources.push_back({detail::parse_assignments(options.remote, "config.url"), true});

    std::optional<std::filesystem::path> file = options.file;
    if (!file && options.read_env) {
        if (const char* env = std::getenv("LEAKY_CONFIG"); env != nullptr && *env != '\0') file = env;
    }
    if (file) {
        std::string content;
        if (read_file(*file, content, errors)) sources.push_back({detail::parse_yaml(content, file->string()), true});
    }
    if (options.profile) add_profile(sources, errors, *options.profile, file);
    if (options.read_env) {
        if (const char* env = std::getenv("LEAKY_SET"); env != nullptr && *env != '\0') {
            sources.push_back({detail::parse_assignments(detail::split_trimmed(env, ';'), "LEAKY_SET"), true});
        }
    }
    if (!options.overrides.empty()) sources.push_back({detail::parse_assignments(options.overrides, "--set"), true});

    Merger merger(schema, Variables{options.environment ? options.environment : process_environment(),
                                    options.require_variables});
    merger.errors() = std::move(errors);
    for (const auto& source : sources) merger.apply(source);
    merger.finish();
    if (!merger.errors().empty()) return fail(Errc::invalid_argument, join_lines(merger.errors()));
    return merger.build();
}

Result<Config> check_file(const Schema& schema, const std::filesystem::path& file) {
    LoadOptions options;
    options.file = file;
    options.read_env = false;
    options.require_variables = false;
    return load(schema, options);
}

Result<void> check_embedded(const Schema& schema) {
    // The shipped files must be valid whatever the environment: defaults are checked, and a value
    // whose variable has no default is left unchecked.
    Merger merger(schema, Variables{[](std::string_view) { return std::optional<std::string>(); }, false});
    for (const auto& [path, content] : embedded::config_files()) {
        merger.apply({detail::parse_yaml(content, "built-in " + std::string(path)), true});
    }
    if (!merger.errors().empty()) return fail(Errc::invalid_argument, join_lines(merger.errors()));
    return ok();
}

}  // namespace lt::config
