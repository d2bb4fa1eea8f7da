#include "lt/core/result.hpp"

#include <array>
#include <utility>

namespace lt {
namespace {
constexpr std::array<std::pair<Errc, std::string_view>, 12> kNames{{
    {Errc::invalid_argument, "invalid_argument"},
    {Errc::unauthenticated, "unauthenticated"},
    {Errc::forbidden, "forbidden"},
    {Errc::not_found, "not_found"},
    {Errc::conflict, "conflict"},
    {Errc::payload_too_large, "payload_too_large"},
    {Errc::payment_required, "payment_required"},
    {Errc::rate_limited, "rate_limited"},
    {Errc::unavailable, "unavailable"},
    {Errc::timeout, "timeout"},
    {Errc::bad_gateway, "bad_gateway"},
    {Errc::internal, "internal"},
}};
}  // namespace

std::string_view to_string(Errc code) {
    for (const auto& [c, n] : kNames) {
        if (c == code) return n;
    }
    return "internal";
}

Errc errc_from_string(std::string_view name) {
    for (const auto& [c, n] : kNames) {
        if (n == name) return c;
    }
    return Errc::internal;
}

}  // namespace lt
