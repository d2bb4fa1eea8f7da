#pragma once
/// Reaching a route hosted in another process (split mode): the request is forwarded over HTTP to an
/// instance of the route's owner, signed with cluster.secret and carrying the verified principal, and
/// the upstream answer is returned as is. Bodies are buffered (the server and client are buffered).

#include <string>

#include <boost/asio/awaitable.hpp>

#include "lt/cluster/forwarder.hpp"
#include "lt/http/message.hpp"

namespace lt::gateway {

/// True for the headers a proxy never forwards (hop-by-hop, Host, Content-Length) in either direction.
bool is_hop_by_hop(std::string_view name);

/// Forwards `req` (method, target, headers minus hop-by-hop, client X-User-* and X-Lt-*, body) to an
/// instance of `owner` with X-Request-Id / X-Correlation-Id and the signature headers. A failed
/// connection is retried on another instance for idempotent methods only. No instance answering →
/// 503 `service unavailable`; past the deadline → 504. Runs on an I/O thread.
boost::asio::awaitable<http::Response> proxy(cluster::Forwarder& forwarder, std::string owner, http::Request req);

}  // namespace lt::gateway
