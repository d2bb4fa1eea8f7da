#pragma once
/// Reaching a route hosted in another process (split mode): the request is forwarded over HTTP to an
/// instance of the route's owner, signed with cluster.secret and carrying the verified principal.
/// Request bodies are buffered (bounded by server.body-limit); a response body without a length
/// (chunked, e.g. server-sent events) is streamed to the client as it arrives.

#include <string>

#include <boost/asio/awaitable.hpp>

#include "lt/cluster/forwarder.hpp"
#include "lt/http/message.hpp"

namespace lt::gateway {

/// True for the headers a proxy never forwards (hop-by-hop, Host, Content-Length) in either direction.
bool is_hop_by_hop(std::string_view name);

/// The answer of a proxied call.
struct ProxyResult {
    http::Response response;
    bool reached = false;  ///< a downstream answered (false: the 503 / 504 is the proxy's own)
};

/// Forwards `req` (method, target, headers minus hop-by-hop, client X-User-* and X-Lt-*, body) to an
/// instance of `owner` with X-Request-Id / X-Correlation-Id and the signature headers, by the
/// request's deadline (until the response head). A failed connection is retried on another instance
/// for idempotent methods only. No instance answering → 503 `service unavailable`; past the deadline →
/// 504. A streamed answer's body is relayed chunk by chunk; when the client goes away the upstream
/// connection is closed (the upstream sees the disconnect); when the upstream breaks off, the client's
/// stream ends without its terminating chunk. Runs on an I/O thread.
boost::asio::awaitable<ProxyResult> proxy(cluster::Forwarder& forwarder, std::string owner, http::Request req);

}  // namespace lt::gateway
