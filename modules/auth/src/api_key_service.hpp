#pragma once
/// ApiKeyService: API keys (A3-A6). Raw keys `leaky_<userId>_<48 hex>` are shown once; only their
/// SHA-256 is stored. Thread-safe: called from any I/O thread; SQL runs on the blocking pool.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "auth_config.hpp"
#include "auth_metrics.hpp"
#include "auth_store.hpp"
#include "lt/auth/auth.hpp"
#include "lt/core/clock.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::auth {

/// A created key with its raw value (returned once).
struct CreatedKey {
    ApiKeyRow row;
    std::string raw_key;
};

/// {"id","userId","name","createdAt","expiresAt","apiKey"} (A3).
boost::json::value to_json(const CreatedKey& k);
/// {"id","name","createdAt","expiresAt"} (A4 items).
boost::json::value to_summary_json(const ApiKeyRow& k);

/// Thread-safe: any I/O thread may call it concurrently.
class ApiKeyService {
public:
    ApiKeyService(ports::SqlDatabase& db, Clock& clock, AuthMetrics& metrics, std::int64_t max_per_user);

    /// The optional fields of a create request (name ≤ 100 characters after trimming, expiresAt RFC 3339):
    /// Errc::invalid_argument with the contract message. Pure; callable before authorization.
    static Result<void> check_create_fields(const std::optional<std::string>& name,
                                            const std::optional<std::string>& expires_at);
    /// A revoke's apiKeyId, canonical: `apiKeyId is required` / `Invalid UUID string: …` otherwise. Pure.
    static Result<std::string> parse_key_id(std::string_view key_id);

    /// A3 after authorization: `user_id` as sent, `name` optional (trimmed, at most 100 characters),
    /// `expires_at` optional RFC 3339 text. Errc::invalid_argument with the contract messages.
    boost::asio::awaitable<Result<CreatedKey>> create(std::string user_id, std::optional<std::string> name,
                                                      std::optional<std::string> expires_at);
    /// A4 after authorization: every key of the user, expired ones included.
    boost::asio::awaitable<Result<std::vector<ApiKeyRow>>> list(std::string user_id);
    /// A5 after authorization: deletes the key; returns its SHA-256. Errc::not_found "api key not
    /// found" when that user has no such key.
    boost::asio::awaitable<Result<std::string>> revoke(std::string user_id, std::string key_id);
    /// A6: the key's owner and roles. Errc::unauthenticated "api key is required" / "invalid api key"
    /// / "api key expired".
    boost::asio::awaitable<Result<VerifiedKey>> verify(std::string raw_key);

private:
    ports::SqlDatabase& db_;
    Clock& clock_;
    AuthMetrics& metrics_;
    std::int64_t max_per_user_;
};

/// The canonical user id of `raw` (trimmed): Errc::invalid_argument "userId is required" when blank,
/// "invalid userId" when not a UUID.
Result<std::string> parse_user_id(std::string_view raw);

}  // namespace lt::auth
