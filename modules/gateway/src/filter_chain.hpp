#pragma once
/// The gateway's request pipeline as an ordered list of filters (issue 11 part 2). Each filter sees the
/// request's Exchange, may answer at once, or calls `next` and may then adjust the response. The list
/// is built in one place (GatewayModule); adding a filter is one line there. Filters run on the I/O
/// thread of the connection and never block.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "edge_limiter.hpp"
#include "lt/http/message.hpp"
#include "lt/http/router.hpp"

namespace lt::gateway {

/// What the filters learn about one request on its way down.
struct Exchange {
    explicit Exchange(http::Request r) : req(std::move(r)), path(req.path) {}
    http::Request req;
    std::string path;                      ///< the decoded request path (for error bodies)
    const http::Route* route = nullptr;    ///< set by the route filter
    std::string route_template;            ///< e.g. "/api/v1/tokens/consume"
    std::string owner;                     ///< owning module ("kernel" for /actuator/**)
    std::string route_id;                  ///< downstream route id ("token-service"), else the owner
    bool local = true;                     ///< the owner runs in this process
    EdgeDecision edge;                     ///< the edge limiter's decision (when it ran)
    bool upstream_unreached = false;       ///< dispatch: no downstream answered (transport error, timeout)
};

class Chain;

/// One step. `next` continues with the filters after this one.
class Filter {
public:
    virtual ~Filter() = default;
    /// Name for logs and tests.
    virtual std::string_view name() const = 0;
    /// Handles `ex`, awaiting `chain.next(ex)` to pass it on (or not, to answer itself).
    virtual boost::asio::awaitable<http::Response> apply(Exchange& ex, Chain& chain) = 0;
};

/// Runs filters in order; a Chain is cheap to create per request (an index over a shared list).
class Chain {
public:
    /// `filters` outlive the chain; the last one must answer without calling next.
    explicit Chain(const std::vector<Filter*>& filters) : filters_(filters) {}
    /// The next filter's answer; 500 when the list ran out.
    boost::asio::awaitable<http::Response> next(Exchange& ex);

private:
    const std::vector<Filter*>& filters_;
    std::size_t pos_ = 0;
};

/// Runs `filters` over `req` from the first.
boost::asio::awaitable<http::Response> run_chain(const std::vector<Filter*>& filters, http::Request req);

}  // namespace lt::gateway
