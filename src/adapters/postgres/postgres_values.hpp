#pragma once
/// Values between the SqlDatabase port and libpq (internal to the PostgreSQL adapter): parameters
/// sent as text with their types, columns read back by type, placeholders counted. Pure functions.

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

#include <libpq-fe.h>

namespace lt::adapters {

/// The highest N of the `$N` placeholders of `sql`, ignoring string literals, quoted identifiers,
/// dollar-quoted strings and comments (0 when there is none).
std::size_t count_placeholders(std::string_view sql);

/// A parameter as the text libpq sends (empty for NULL, which param_values() sends as a null pointer).
std::string param_text(const lt::ports::SqlValue& v);
/// The type a parameter is prepared with (0 for NULL: the server infers it).
Oid param_type(const lt::ports::SqlValue& v);
/// One character per parameter type, for the prepared-statement cache key.
char signature_char(const lt::ports::SqlValue& v);
/// True when `s` starts with one of `prefixes`.
bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes);
/// The parameters as libpq wants them: texts kept alive in `texts`, NULL as a null pointer.
std::vector<const char*> param_values(std::span<const lt::ports::SqlValue> params, std::vector<std::string>& texts);
/// The rows, columns (numbers by type, the rest as text) and affected count of a successful result.
lt::ports::SqlResult sql_result_of(const pg_result* r);
/// The error of a statement given the wrong number of parameters.
lt::Error arity_error(std::string_view sql, std::size_t given);

}  // namespace lt::adapters
