#pragma once
/// The metric names a PromQL expression reads (enough of PromQL for dashboards and alert rules):
/// strings, label matchers `{...}`, ranges `[...]`, grouping lists `by (...)`, Grafana variables
/// `$x` / `${x}` / `[$__rate_interval]` are skipped; an identifier followed by `(` is a function or
/// an aggregation; keywords are skipped; what remains is a metric name.

#include <cctype>
#include <set>
#include <string>
#include <string_view>

namespace lt::test {

inline std::set<std::string> promql_metric_names(std::string_view e) {
    static const std::set<std::string, std::less<>> kKeywords{
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
        "inf", "nan", "Inf", "NaN", "atan2",
        // aggregations, which may be followed by `by (...)` before their parenthesis
        "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
        "group"};
    std::set<std::string> out;
    auto ident_start = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; };
    auto ident_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; };
    auto skip_balanced = [&](std::size_t i, char open, char close) {
        int depth = 0;
        for (; i < e.size(); ++i) {
            if (e[i] == '"' || e[i] == '\'') {
                const char q = e[i];
                for (++i; i < e.size() && e[i] != q; ++i) {
                    if (e[i] == '\\') ++i;
                }
                continue;
            }
            if (e[i] == open) ++depth;
            if (e[i] == close && --depth == 0) return i + 1;
        }
        return i;
    };
    std::string previous;  // the last identifier, to spot `by (` and friends
    for (std::size_t i = 0; i < e.size();) {
        const char c = e[i];
        if (c == '"' || c == '\'' || c == '`') {
            std::size_t j = i + 1;
            for (; j < e.size() && e[j] != c; ++j) {
                if (e[j] == '\\') ++j;
            }
            i = j + 1;
            continue;
        }
        if (c == '{') {
            i = skip_balanced(i, '{', '}');
            continue;
        }
        if (c == '[') {
            i = skip_balanced(i, '[', ']');
            continue;
        }
        if (c == '$') {
            ++i;
            if (i < e.size() && e[i] == '{') {
                i = skip_balanced(i, '{', '}');
            } else {
                while (i < e.size() && ident_char(e[i])) ++i;
            }
            continue;
        }
        if (c == '(' && (previous == "by" || previous == "without" || previous == "on" || previous == "ignoring" ||
                         previous == "group_left" || previous == "group_right")) {
            i = skip_balanced(i, '(', ')');
            previous.clear();
            continue;
        }
        if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i + 1 < e.size() && std::isdigit(e[i + 1]))) {
            // A number (also 1e6, 0x1F, 5m in `offset 5m`): skip its characters.
            while (i < e.size() && (ident_char(e[i]) || e[i] == '.')) ++i;
            continue;
        }
        if (ident_start(c)) {
            std::size_t j = i;
            while (j < e.size() && ident_char(e[j])) ++j;
            std::string word(e.substr(i, j - i));
            std::size_t k = j;
            while (k < e.size() && std::isspace(static_cast<unsigned char>(e[k]))) ++k;
            const bool call = k < e.size() && e[k] == '(';
            if (!call && !kKeywords.count(word)) out.insert(word);
            previous = word;
            i = j;
            continue;
        }
        if (!std::isspace(static_cast<unsigned char>(c))) previous.clear();
        ++i;
    }
    return out;
}

}  // namespace lt::test
