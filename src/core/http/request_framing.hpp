#pragma once
// Request framing checks of the HTTP server (RFC 9112): where a header block ends, obs-folded lines,
// and the Transfer-Encoding / Content-Length / Host rules that keep a body from being read as a
// further request (request smuggling). Internal to src/core/http.

#include <cstddef>
#include <string>
#include <utility>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace lt::http {

/// Offset of the CRLFCRLF ending the header in `b`, or npos.
std::size_t header_end(const boost::beast::flat_buffer& b);

/// True when a header line of the (complete) header in `b` is an obs-fold continuation (RFC 9112 §5.2).
bool has_obs_fold(const boost::beast::flat_buffer& b);

/// RFC 9112 §6.1/§6.3 and §3.2 checks on a parsed header: {status, message}, status 0 when acceptable.
/// A request whose framing is ambiguous is refused and its connection closed, so no body byte can be
/// read as a further request (request smuggling).
std::pair<int, std::string> framing_error(const boost::beast::http::request<boost::beast::http::string_body>& m,
                                          bool folded);

}  // namespace lt::http
