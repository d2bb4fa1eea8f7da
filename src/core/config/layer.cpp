#include "config/layer.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <yaml-cpp/yaml.h>

namespace lt::config::detail {
namespace {

std::string_view trim_view(std::string_view text) {
    const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

std::string origin_of(const std::string& name, const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return name;
    return name + ":" + std::to_string(mark.line + 1);
}

std::string join_key(const std::string& prefix, const std::string& segment) {
    return prefix.empty() ? segment : prefix + "." + segment;
}

void flatten(const YAML::Node& node, const std::string& key, Layer& layer) {
    const std::string origin = origin_of(layer.name, node);
    switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
        if (!key.empty()) layer.entries.push_back({key, EntryKind::null, {}, origin});
        return;
    case YAML::NodeType::Scalar:
        if (key.empty()) {
            layer.errors.push_back(origin + ": the top level must be a map of keys, not a scalar");
            return;
        }
        layer.entries.push_back({key, EntryKind::scalar, {node.Scalar()}, origin});
        return;
    case YAML::NodeType::Sequence: {
        if (key.empty()) {
            layer.errors.push_back(origin + ": the top level must be a map of keys, not a list");
            return;
        }
        Entry entry{key, EntryKind::list, {}, origin};
        for (const auto& item : node) {
            if (!item.IsScalar()) {
                layer.errors.push_back("key '" + key + "': list items must be scalars (in " +
                                       origin_of(layer.name, item) + ")");
                return;
            }
            entry.values.push_back(item.Scalar());
        }
        layer.entries.push_back(std::move(entry));
        return;
    }
    case YAML::NodeType::Map:
        if (!key.empty()) layer.entries.push_back({key, EntryKind::map, {}, origin});
        for (const auto& item : node) {
            if (!item.first.IsScalar() || item.first.Scalar().empty()) {
                layer.errors.push_back(origin_of(layer.name, item.first) + ": map keys must be non-empty names" +
                                       (key.empty() ? std::string() : " (under '" + key + "')"));
                continue;
            }
            flatten(item.second, join_key(key, item.first.Scalar()), layer);
        }
        return;
    }
}

}  // namespace

Layer parse_yaml(std::string_view text, std::string name) {
    Layer layer;
    layer.name = std::move(name);
    try {
        const YAML::Node root = YAML::Load(std::string(text));
        flatten(root, "", layer);
    } catch (const YAML::Exception& e) {
        std::string where = layer.name;
        if (!e.mark.is_null()) {
            where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
        }
        layer.entries.clear();
        layer.errors.push_back(where + ": YAML syntax error: " + e.msg);
    } catch (const std::exception& e) {
        layer.entries.clear();
        layer.errors.push_back(layer.name + ": cannot parse YAML: " + e.what());
    }
    return layer;
}

Layer parse_assignments(const std::vector<std::string>& assignments, std::string name) {
    Layer layer;
    layer.name = std::move(name);
    for (const auto& assignment : assignments) {
        const auto eq = assignment.find('=');
        const std::string_view key = eq == std::string::npos ? std::string_view() :
                                                               trim_view(std::string_view(assignment).substr(0, eq));
        if (key.empty()) {
            layer.errors.push_back(layer.name + ": expected key=value, got '" + assignment + "'");
            continue;
        }
        const std::string_view value = trim_view(std::string_view(assignment).substr(eq + 1));
        if (value == "~") {
            layer.entries.push_back({std::string(key), EntryKind::null, {}, layer.name});
        } else {
            layer.entries.push_back({std::string(key), EntryKind::scalar, {std::string(value)}, layer.name});
        }
    }
    return layer;
}

Expansion expand_variables(std::string_view value, const EnvLookup& lookup) {
    const auto is_start = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    const auto is_name = [&](char c) { return is_start(c) || (c >= '0' && c <= '9'); };
    Expansion out;
    std::size_t i = 0;
    while (i < value.size()) {
        const char c = value[i];
        if (c != '$') {
            out.text += c;
            ++i;
            continue;
        }
        if (value.substr(i, 3) == "$${") {  // escaped: a literal "${"
            out.text += "${";
            i += 3;
            continue;
        }
        if (i + 1 >= value.size() || value[i + 1] != '{') {
            out.text += c;
            ++i;
            continue;
        }
        const std::size_t close = value.find('}', i + 2);
        if (close == std::string_view::npos) {
            out.error = "'${' without a closing '}' (write '$${' for a literal '${')";
            return out;
        }
        const std::string_view body = value.substr(i + 2, close - i - 2);
        const std::size_t colon = body.find(':');
        const std::string_view name = body.substr(0, colon);
        if (name.empty() || !is_start(name.front()) ||
            !std::all_of(name.begin(), name.end(), [&](char n) { return is_name(n); })) {
            out.error = "'${" + std::string(body) +
                        "}' is not a variable reference (${NAME} or ${NAME:default}; NAME is letters, digits and '_')";
            return out;
        }
        if (auto found = lookup(name); found && !found->empty()) {
            out.text += *found;
        } else if (colon != std::string_view::npos) {
            out.text += body.substr(colon + 1);
        } else {
            out.missing.emplace_back(name);
        }
        i = close + 1;
    }
    return out;
}

std::vector<std::string> split_trimmed(std::string_view text, char separator) {
    std::vector<std::string> parts;
    while (true) {
        const auto pos = text.find(separator);
        const std::string_view part = trim_view(text.substr(0, pos));
        if (!part.empty()) parts.emplace_back(part);
        if (pos == std::string_view::npos) break;
        text.remove_prefix(pos + 1);
    }
    return parts;
}

}  // namespace lt::config::detail
