#pragma once
/// TLS termination of the HTTP server (server.ssl.*): the server context from PEM files.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "lt/core/result.hpp"

namespace lt::http {

/// Cipher suites offered on TLS 1.2 (Mozilla "intermediate": ECDHE key exchange, AEAD only); TLS 1.3
/// uses OpenSSL's default suites (all AEAD).
inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/// A server context: TLS 1.2 minimum, kTls12Ciphers, no compression, no renegotiation, with the
/// certificate chain and private key read from the PEM files `certificate` and `private_key` (the key
/// must match the certificate). Errc::invalid_argument naming the file on any failure. Blocking file
/// reads: start-up, or a reload off the I/O threads' hot path (SIGHUP, rare).
Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls_context(const std::string& certificate,
                                                                          const std::string& private_key);

}  // namespace lt::http
