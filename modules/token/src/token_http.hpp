#pragma once
/// Helpers shared by the token module's HTTP handlers: validation and response shapes.

#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "limiter/rate_limiter.hpp"
#include "lt/http/message.hpp"
#include "quota/quota_service.hpp"

namespace lt::token {

/// 400 with the contract's error body.
http::Response bad_request(const http::Request& req, std::string_view message);
/// 403 `forbidden`.
http::Response forbidden(const http::Request& req);

/// The trimmed string at `key`; a number or boolean gives its JSON text (the original coerces scalars to
/// strings, so `"userId": 123` is an invalid id, not a missing one); empty when absent, null, blank, an
/// object or an array.
std::string trimmed_field(const boost::json::object& o, std::string_view key);

/// CONTRACT.md item 15: 1..2147483647 as a JSON integer, else the 400 message.
Result<std::int64_t> parse_tokens(const boost::json::object& o);

/// X-RateLimit-* and IETF RateLimit/RateLimit-Policy headers for a bucket decision.
void add_rate_headers(http::Response& res, const BucketDecision& d, const BucketParams& p);

/// The quota view {<owner>, provider, totalTokens, remainingTokens, purchasedTokens, resetTime, updatedAt}.
boost::json::object quota_json(const PoolKey& key, const PoolView& v);

}  // namespace lt::token
