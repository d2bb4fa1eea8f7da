#include "proxy.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <stdexcept>

#include "lt/http/errors.hpp"

namespace asio = boost::asio;

namespace lt::gateway {

namespace {
std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}
bool idempotent(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS";
}
}  // namespace

bool is_hop_by_hop(std::string_view name) {
    static constexpr std::array<std::string_view, 10> kHop{"connection", "keep-alive",        "proxy-authenticate",
                                                          "proxy-authorization", "te",         "trailer",
                                                          "transfer-encoding",   "upgrade",    "host",
                                                          "content-length"};
    auto n = lower(name);
    return std::find(kHop.begin(), kHop.end(), n) != kHop.end();
}

namespace {
/// Relays the upstream body; a broken upstream throws so the server ends the client's stream
/// without its terminator (the client must not take a cut-off body for a whole one).
asio::awaitable<void> relay(std::shared_ptr<http::BodyReader> upstream, http::BodyWriter& client) {
    for (;;) {
        auto op = upstream->next();
        auto piece = co_await std::move(op);
        if (!piece) throw std::runtime_error("upstream stream broke off: " + piece.error().message);
        if (piece->empty()) co_return;
        auto w = client.write(*piece);
        if (!co_await std::move(w)) co_return;  // the client went away: dropping `upstream` closes it
    }
}
}  // namespace

asio::awaitable<ProxyResult> proxy(cluster::Forwarder& forwarder, std::string owner, http::Request req) {
    cluster::Call call;
    // HEAD goes upstream as GET (the client reads whole responses); the server drops the body.
    call.request.method = req.method == "HEAD" ? std::string("GET") : req.method;
    call.request.target = req.target;
    for (auto& h : req.headers) {
        auto n = lower(h.name);
        if (is_hop_by_hop(n) || n.rfind("x-user-", 0) == 0 || n.rfind("x-lt-", 0) == 0 || n == "x-request-id" ||
            n == "x-correlation-id" || n == "traceparent") {
            continue;
        }
        call.request.headers.push_back(std::move(h));
    }
    call.request.headers.push_back({"X-Correlation-Id", req.ctx.correlation_id});
    // The gateway's span is the parent upstream (the client's traceparent is its parent here).
    if (!req.ctx.traceparent.empty()) call.request.headers.push_back({"traceparent", req.ctx.traceparent});
    call.request.body = std::move(req.body);
    call.request.stream_response = true;
    call.principal = req.ctx.principal;
    call.request_id = req.ctx.request_id;
    call.deadline = req.ctx.deadline;
    const bool retry = idempotent(req.method);
    auto op = forwarder.send(owner, std::move(call), retry);
    auto res = co_await std::move(op);
    ProxyResult result;
    if (!res) {
        result.response = res.error().code == Errc::timeout ? http::error_response(504, "gateway timeout", req.path)
                                                            : http::error_response(503, "service unavailable", req.path);
        co_return result;
    }
    result.reached = true;
    http::Response& out = result.response;
    out.status = res->status;
    out.body = std::move(res->body);
    for (auto& h : res->headers) {
        if (!is_hop_by_hop(h.name)) out.headers.push_back(std::move(h));
    }
    if (res->stream) {
        out.stream = [upstream = std::move(res->stream)](http::BodyWriter& w) { return relay(upstream, w); };
    }
    co_return result;
}

}  // namespace lt::gateway
