#pragma once
/// User names: what may be in one, and the canonical key that decides uniqueness (issue 15 item 7).
/// Names are compared by key = UTS #39 confusable skeleton of NFKC_Casefold(name), so "ADMIN",
/// fullwidth "ａｄｍｉｎ" and Cyrillic "аdmin" all collide with "admin". Pure functions over ICU; any
/// thread.

#include <optional>
#include <string>
#include <string_view>

namespace lt::auth {

/// Why `username` (already trimmed) cannot be registered, or nullopt: not UTF-8, or holds a control
/// (C0/C1), format/invisible (U+200B, U+00AD, U+FEFF, bidi overrides such as U+202E), separator other
/// than the ASCII space (U+00A0, U+2028...), private-use, surrogate or unassigned code point.
std::optional<std::string> username_problem(std::string_view username);

/// The uniqueness key of `username`: skeleton(NFKC_Casefold(username)) as UTF-8. For text that is not
/// valid UTF-8 the bytes themselves (such names are refused at registration anyway).
std::string username_key(std::string_view username);

}  // namespace lt::auth
