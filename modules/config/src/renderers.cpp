// The merged configuration as YAML and as Java properties (GET /{application}-{profile}.yml|.properties).
#include <memory>

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include "config_repository.hpp"

namespace json = boost::json;

namespace lt::config_server {

namespace {

/// A tree rebuilt from dotted keys: "a.b[0]" → a: {b: [..]}.
struct Tree {
    bool leaf = false;
    bool seq = false;
    json::value value;
    std::vector<std::pair<std::string, std::unique_ptr<Tree>>> kids;

    Tree* child(const std::string& name) {
        for (auto& [k, t] : kids) {
            if (k == name) return t.get();
        }
        kids.emplace_back(name, std::make_unique<Tree>());
        return kids.back().second.get();
    }
};

std::vector<std::string> split_key(const std::string& key, std::vector<bool>& index) {
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&](bool is_index) {
        if (!cur.empty()) {
            out.push_back(cur);
            index.push_back(is_index);
        }
        cur.clear();
    };
    for (char c : key) {
        if (c == '.') {
            flush(false);
        } else if (c == '[') {
            flush(false);
        } else if (c == ']') {
            flush(true);
        } else {
            cur.push_back(c);
        }
    }
    flush(false);
    return out;
}

// Inserts key=value; false when the key collides with a branch or a leaf on its path.
bool insert(Tree& root, const std::string& key, const json::value& value) {
    std::vector<bool> index;
    auto segs = split_key(key, index);
    if (segs.empty()) return false;
    Tree* cur = &root;
    for (std::size_t i = 0; i < segs.size(); ++i) {
        if (cur->leaf) return false;
        if (index[i]) cur->seq = true;
        Tree* next = cur->child(segs[i]);
        if (i + 1 == segs.size()) {
            if (!next->kids.empty()) return false;
            next->leaf = true;
            next->value = value;
        }
        cur = next;
    }
    return true;
}

void emit_scalar(YAML::Emitter& out, const json::value& v) {
    if (v.is_string()) {
        out << std::string(v.as_string());
    } else if (v.is_bool()) {
        out << v.as_bool();
    } else if (v.is_int64()) {
        out << v.as_int64();
    } else if (v.is_uint64()) {
        out << v.as_uint64();
    } else if (v.is_double()) {
        out << json::serialize(v);
    } else {
        out << YAML::Null;
    }
}

void emit(YAML::Emitter& out, const Tree& t) {
    if (t.leaf) {
        emit_scalar(out, t.value);
        return;
    }
    if (t.seq) {
        out << YAML::BeginSeq;
        for (const auto& [k, kid] : t.kids) emit(out, *kid);
        out << YAML::EndSeq;
        return;
    }
    out << YAML::BeginMap;
    for (const auto& [k, kid] : t.kids) {
        out << YAML::Key << k << YAML::Value;
        emit(out, *kid);
    }
    out << YAML::EndMap;
}

std::string text_of(const json::value& v) {
    if (v.is_string()) return std::string(v.as_string());
    if (v.is_null()) return {};
    return json::serialize(v);
}

std::string escape_properties(const std::string& s, bool key) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '=':
            case ':':
            case '#':
            case '!':
                if (key) out.push_back('\\');
                out.push_back(c);
                break;
            case ' ':
                if (key || i == 0) out.push_back('\\');
                out.push_back(c);
                break;
            default: out.push_back(c);
        }
    }
    return out;
}

}  // namespace

std::string render_yaml(const FlatProperties& props) {
    Tree root;
    std::vector<std::pair<std::string, json::value>> flat;  // keys that cannot nest stay dotted
    for (const auto& [k, v] : props) {
        if (!insert(root, k, v)) flat.emplace_back(k, v);
    }
    for (const auto& [k, v] : flat) {
        Tree* t = root.child(k);
        t->leaf = true;
        t->value = v;
    }
    if (root.kids.empty()) return "{}\n";
    YAML::Emitter out;
    emit(out, root);
    return std::string(out.c_str()) + "\n";
}

std::string render_properties(const FlatProperties& props) {
    std::string out;
    for (const auto& [k, v] : props) out += escape_properties(k, true) + "=" + escape_properties(text_of(v), false) + "\n";
    return out;
}

}  // namespace lt::config_server
