#include "postgres_values.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include <libpq-fe.h>

namespace lt::adapters {

using lt::ports::SqlResult;
using lt::ports::SqlValue;

namespace {

// Type OIDs (pg_type.dat): the ones converted to numbers; every other type comes back as text.
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;
constexpr Oid kTextOid = 25;

bool is_ident_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}

SqlValue column_value(const char* text, int len, Oid type) {
    std::string_view s(text, static_cast<std::size_t>(len));
    switch (type) {
        case kInt8Oid:
        case kInt4Oid:
        case kInt2Oid: {
            std::int64_t v = 0;
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
            if (ec == std::errc() && end == s.data() + s.size()) return v;
            return std::string(s);
        }
        case kBoolOid: return std::int64_t{s == "t" ? 1 : 0};
        case kFloat4Oid:
        case kFloat8Oid:
        case kNumericOid: {
            // strtod reads NaN/Infinity too; the text is NUL-terminated by libpq.
            char* end = nullptr;
            double v = std::strtod(text, &end);
            if (end == text + len) return v;
            return std::string(s);
        }
        default: return std::string(s);
    }
}

}  // namespace

std::string param_text(const SqlValue& v) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&v)) {
        if (std::isnan(*d)) return "NaN";
        if (std::isinf(*d)) return *d > 0 ? "Infinity" : "-Infinity";
        char buf[64];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d);
        return ec == std::errc() ? std::string(buf, end) : std::to_string(*d);
    }
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    return {};
}

Oid param_type(const SqlValue& v) {
    if (std::holds_alternative<std::int64_t>(v)) return kInt8Oid;
    if (std::holds_alternative<double>(v)) return kFloat8Oid;
    if (std::holds_alternative<std::string>(v)) return kTextOid;
    return 0;  // NULL: the server infers the type from the statement
}

char signature_char(const SqlValue& v) {
    if (std::holds_alternative<std::int64_t>(v)) return 'i';
    if (std::holds_alternative<double>(v)) return 'd';
    if (std::holds_alternative<std::string>(v)) return 't';
    return 'n';
}

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(), [s](std::string_view p) { return s.starts_with(p); });
}

std::size_t count_placeholders(std::string_view sql) {
    std::size_t highest = 0;
    std::size_t i = 0;
    const std::size_t n = sql.size();
    while (i < n) {
        const char c = sql[i];
        if (c == '\'' || c == '"') {  // literal or quoted identifier; a doubled quote escapes it
            ++i;
            while (i < n) {
                if (sql[i] == c) {
                    if (i + 1 < n && sql[i + 1] == c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                ++i;
            }
            ++i;
        } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
            while (i < n && sql[i] != '\n') ++i;
        } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
            const auto close = sql.find("*/", i + 2);
            i = close == std::string_view::npos ? n : close + 2;
        } else if (c == '$') {
            std::size_t j = i + 1;
            if (j < n && sql[j] >= '0' && sql[j] <= '9') {
                std::size_t v = 0;
                while (j < n && sql[j] >= '0' && sql[j] <= '9') v = v * 10 + static_cast<std::size_t>(sql[j++] - '0');
                highest = std::max(highest, v);
                i = j;
                continue;
            }
            while (j < n && is_ident_char(sql[j])) ++j;
            if (j < n && sql[j] == '$' && (i == 0 || !is_ident_char(sql[i - 1]))) {  // $tag$ ... $tag$
                const std::string_view tag = sql.substr(i, j - i + 1);
                const auto close = sql.find(tag, j + 1);
                i = close == std::string_view::npos ? n : close + tag.size();
            } else {
                i = j;
            }
        } else {
            ++i;
        }
    }
    return highest;
}

/// The rows, columns and affected count of a successful result.
SqlResult sql_result_of(const pg_result* r) {
    SqlResult out;
    const int cols = PQnfields(r);
    const int rows = PQntuples(r);
    out.columns.reserve(static_cast<std::size_t>(cols));
    std::vector<Oid> types(static_cast<std::size_t>(cols));
    for (int c = 0; c < cols; ++c) {
        out.columns.emplace_back(PQfname(r, c));
        types[static_cast<std::size_t>(c)] = PQftype(r, c);
    }
    out.rows.reserve(static_cast<std::size_t>(rows));
    for (int row = 0; row < rows; ++row) {
        lt::ports::SqlRow values_row;
        values_row.reserve(static_cast<std::size_t>(cols));
        for (int c = 0; c < cols; ++c) {
            if (PQgetisnull(r, row, c)) {
                values_row.emplace_back(nullptr);
            } else {
                values_row.push_back(column_value(PQgetvalue(r, row, c), PQgetlength(r, row, c),
                                                  types[static_cast<std::size_t>(c)]));
            }
        }
        out.rows.push_back(std::move(values_row));
    }
    const std::string_view status = PQcmdStatus(const_cast<pg_result*>(r));
    if (starts_with_any(status, {"INSERT", "UPDATE", "DELETE", "MERGE"})) {
        out.affected = std::strtoll(PQcmdTuples(const_cast<pg_result*>(r)), nullptr, 10);
    }
    return out;
}

/// The parameters as libpq wants them: texts kept alive in `texts`, NULL as a null pointer.
std::vector<const char*> param_values(std::span<const SqlValue> params, std::vector<std::string>& texts) {
    texts.clear();
    texts.reserve(params.size());
    for (const auto& p : params) texts.push_back(param_text(p));
    std::vector<const char*> values;
    values.reserve(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
        values.push_back(std::holds_alternative<std::nullptr_t>(params[i]) ? nullptr : texts[i].c_str());
    }
    return values;
}

lt::Error arity_error(std::string_view sql, std::size_t given) {
    return lt::Error{Errc::invalid_argument, "statement takes " + std::to_string(count_placeholders(sql)) +
                                                 " parameters, " + std::to_string(given) + " given"};
}

}  // namespace lt::adapters
