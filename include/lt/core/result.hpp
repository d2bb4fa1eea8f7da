#pragma once
/// lt::Result<T> and lt::Errc: the only way errors cross a module, the bus or a port.

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace lt {

/// Error categories. Mapped to HTTP statuses in exactly one place (lt/http/errors.hpp).
enum class Errc {
    invalid_argument,   ///< 400
    unauthenticated,    ///< 401
    forbidden,          ///< 403
    not_found,          ///< 404
    conflict,           ///< 409
    payload_too_large,  ///< 413
    payment_required,   ///< 402
    rate_limited,       ///< 429
    unavailable,        ///< 503
    timeout,            ///< 504
    bad_gateway,        ///< 502
    internal,           ///< 500
};

/// Stable lower-case name of an error category ("invalid_argument", ...), used on the bus wire.
std::string_view to_string(Errc code);
/// Inverse of to_string; unknown names map to Errc::internal.
Errc errc_from_string(std::string_view name);

/// An error: category plus a human-readable message that is safe to show to the client.
struct Error {
    Errc code = Errc::internal;
    std::string message;
};

template <class T>
using Result = tl::expected<T, Error>;

/// Builds the error side of a Result: `return lt::fail(Errc::not_found, "quota not found");`
inline tl::unexpected<Error> fail(Errc code, std::string message) {
    return tl::unexpected<Error>(Error{code, std::move(message)});
}
inline tl::unexpected<Error> fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

/// Success value for Result<void>.
inline Result<void> ok() { return {}; }

}  // namespace lt
