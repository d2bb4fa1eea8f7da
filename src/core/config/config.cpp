// Schema, Config getters and small helpers. The loader is in loader.cpp.
#include "lt/core/config.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <utility>

#include "lt/core/embedded.hpp"
#include "lt/core/time.hpp"

namespace lt::config {
namespace {

std::vector<std::string_view> split_dots(std::string_view text) {
    std::vector<std::string_view> parts;
    while (true) {
        const auto pos = text.find('.');
        parts.push_back(text.substr(0, pos));
        if (pos == std::string_view::npos) break;
        text.remove_prefix(pos + 1);
    }
    return parts;
}

/// Number of `*` segments when `pattern` matches `key`, or -1.
int match_wildcards(std::string_view pattern, std::string_view key) {
    const auto p = split_dots(pattern);
    const auto k = split_dots(key);
    if (p.size() != k.size()) return -1;
    int wildcards = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] == "*") {
            if (k[i].empty()) return -1;
            ++wildcards;
        } else if (p[i] != k[i]) {
            return -1;
        }
    }
    return wildcards;
}

std::string_view trim_view(std::string_view text) {
    const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

}  // namespace

void Schema::add(KeySpec spec) {
    const auto same = std::find_if(keys_.begin(), keys_.end(),
                                   [&](const KeySpec& k) { return k.pattern == spec.pattern; });
    if (same != keys_.end()) {
        *same = std::move(spec);
    } else {
        keys_.push_back(std::move(spec));
    }
}

const KeySpec* Schema::find(std::string_view key) const {
    const KeySpec* best = nullptr;
    int best_wildcards = 0;
    for (const auto& spec : keys_) {
        const int wildcards = match_wildcards(spec.pattern, key);
        if (wildcards < 0) continue;
        if (wildcards == 0) return &spec;
        if (best == nullptr || wildcards < best_wildcards) {
            best = &spec;
            best_wildcards = wildcards;
        }
    }
    return best;
}

bool Config::has(std::string_view key) const { return values_.find(key) != values_.end(); }

void Config::set(std::string key, std::vector<std::string> values, bool is_list) {
    lists_[key] = is_list;
    values_[std::move(key)] = std::move(values);
}

bool Config::is_list(std::string_view key) const {
    const auto it = lists_.find(key);
    return it != lists_.end() && it->second;
}

std::string Config::get_string(std::string_view key, std::string fallback) const {
    const auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    std::string joined;
    for (const auto& value : it->second) {
        if (!joined.empty()) joined += ',';
        joined += value;
    }
    return joined;
}

std::int64_t Config::get_int(std::string_view key, std::int64_t fallback) const {
    const auto it = values_.find(key);
    if (it == values_.end() || it->second.size() != 1) return fallback;
    const std::string_view text = trim_view(it->second.front());
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return fallback;
    return value;
}

double Config::get_double(std::string_view key, double fallback) const {
    const auto it = values_.find(key);
    if (it == values_.end() || it->second.size() != 1) return fallback;
    const std::string_view text = trim_view(it->second.front());
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return fallback;
    return value;
}

bool Config::get_bool(std::string_view key, bool fallback) const {
    const auto it = values_.find(key);
    if (it == values_.end() || it->second.size() != 1) return fallback;
    std::string text(trim_view(it->second.front()));
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
    if (text == "true") return true;
    if (text == "false") return false;
    return fallback;
}

std::chrono::milliseconds Config::get_duration(std::string_view key, std::chrono::milliseconds fallback) const {
    const auto it = values_.find(key);
    if (it == values_.end() || it->second.size() != 1) return fallback;
    return parse_duration(trim_view(it->second.front())).value_or(fallback);
}

std::vector<std::string> Config::get_list(std::string_view key) const {
    const auto it = values_.find(key);
    if (it == values_.end()) return {};
    return it->second;
}

std::vector<std::string> Config::children(std::string_view prefix) const {
    std::set<std::string, std::less<>> names;
    for (const auto& [key, values] : values_) {
        std::string_view rest = key;
        if (!prefix.empty()) {
            if (rest.size() <= prefix.size() + 1 || rest.substr(0, prefix.size()) != prefix ||
                rest[prefix.size()] != '.') {
                continue;
            }
            rest.remove_prefix(prefix.size() + 1);
        }
        names.emplace(rest.substr(0, rest.find('.')));
    }
    return {names.begin(), names.end()};
}

std::string_view embedded_defaults() {
    for (const auto& [path, content] : embedded::config_files()) {
        if (path == "leaky-tokens.yaml") return content;
    }
    return {};
}

std::vector<std::string> documented_keys(std::string_view markdown) {
    std::vector<std::string> keys;
    while (!markdown.empty()) {
        const auto end = markdown.find('\n');
        const std::string_view line = trim_view(markdown.substr(0, end));
        markdown.remove_prefix(end == std::string_view::npos ? markdown.size() : end + 1);
        if (line.size() < 2 || line.front() != '|') continue;
        const auto bar = line.find('|', 1);
        if (bar == std::string_view::npos) continue;
        const std::string_view cell = trim_view(line.substr(1, bar - 1));
        if (cell.size() < 3 || cell.front() != '`' || cell.back() != '`') continue;
        const std::string_view key = cell.substr(1, cell.size() - 2);
        if (key.find('`') != std::string_view::npos) continue;
        keys.emplace_back(key);
    }
    return keys;
}

}  // namespace lt::config
