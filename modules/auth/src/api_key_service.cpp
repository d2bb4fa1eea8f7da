#include "api_key_service.hpp"

#include <boost/json.hpp>

#include "lt/core/crypto.hpp"
#include "lt/core/time.hpp"

namespace asio = boost::asio;

namespace lt::auth {

namespace {

/// Longer X-Api-Key values cannot be ours (`leaky_` + 36 + `_` + 48 = 91 characters).
constexpr std::size_t kMaxRawKeyLength = 256;

boost::json::value opt(const std::optional<std::string>& v) {
    return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

}  // namespace

boost::json::value to_json(const CreatedKey& k) {
    return boost::json::object{{"id", k.row.id},
                               {"userId", k.row.user_id},
                               {"name", opt(k.row.name)},
                               {"createdAt", k.row.created_at},
                               {"expiresAt", opt(k.row.expires_at)},
                               {"apiKey", k.raw_key}};
}

boost::json::value to_summary_json(const ApiKeyRow& k) {
    return boost::json::object{
        {"id", k.id}, {"name", opt(k.name)}, {"createdAt", k.created_at}, {"expiresAt", opt(k.expires_at)}};
}

Result<std::string> parse_user_id(std::string_view raw) {
    auto trimmed = trim(raw);
    if (trimmed.empty()) return fail(Errc::invalid_argument, "userId is required");
    auto id = normalize_uuid(trimmed);
    if (!id) return fail(Errc::invalid_argument, "invalid userId");
    return *id;
}

ApiKeyService::ApiKeyService(ports::SqlDatabase& db, Clock& clock, AuthMetrics& metrics, std::int64_t max_per_user)
    : db_(db), clock_(clock), metrics_(metrics), max_per_user_(max_per_user) {}

asio::awaitable<Result<CreatedKey>> ApiKeyService::create(std::string user_id, std::optional<std::string> name,
                                                          std::optional<std::string> expires_at) {
    auto invalid = [this](std::string msg) {
        metrics_.api_key_create_failure();
        return fail(Errc::invalid_argument, std::move(msg));
    };
    auto id = parse_user_id(user_id);
    if (!id) co_return invalid(id.error().message);
    CreatedKey out;
    out.row.id = new_uuid();
    out.row.user_id = *id;
    if (auto checked = check_create_fields(name, expires_at); !checked) co_return invalid(checked.error().message);
    if (name) out.row.name = trim(*name);
    // Not required to lie in the future: the original accepts already expired keys.
    if (expires_at) out.row.expires_at = format_rfc3339(*parse_rfc3339(*expires_at));
    out.row.created_at = format_rfc3339(clock_.now());
    out.raw_key = "leaky_" + *id + "_" + crypto::random_hex(24);
    const std::string hash = crypto::sha256_hex(out.raw_key);

    std::string problem;
    auto body = [&](ports::SqlSession& s) -> Result<void> {
        AuthStore store(s);
        auto user = store.find_user_by_id(*id);
        if (!user) return fail(user.error());
        if (!*user) {
            problem = "user not found";
            return ok();
        }
        auto count = store.count_api_keys(*id);
        if (!count) return fail(count.error());
        if (*count >= max_per_user_) {
            problem = "too many api keys (limit " + std::to_string(max_per_user_) + ")";
            return ok();
        }
        return store.insert_api_key(out.row, hash);
    };
    auto op = db_.transact(body);
    auto r = co_await std::move(op);
    if (!r) co_return fail(r.error());
    if (!problem.empty()) co_return invalid(problem);
    metrics_.api_key_create_success();
    co_return out;
}

asio::awaitable<Result<std::vector<ApiKeyRow>>> ApiKeyService::list(std::string user_id) {
    auto id = parse_user_id(user_id);
    if (!id) co_return fail(id.error());
    std::vector<ApiKeyRow> keys;
    auto body = [&](ports::SqlSession& s) -> Result<void> {
        auto r = AuthStore(s).list_api_keys(*id);
        if (!r) return fail(r.error());
        keys = std::move(*r);
        return ok();
    };
    auto op = db_.transact(body);
    auto r = co_await std::move(op);
    if (!r) co_return fail(r.error());
    co_return keys;
}

Result<void> ApiKeyService::check_create_fields(const std::optional<std::string>& name,
                                               const std::optional<std::string>& expires_at) {
    if (name && utf8_length(trim(*name)) > kMaxKeyNameChars) return fail(Errc::invalid_argument, "name too long");
    if (expires_at && !parse_rfc3339(*expires_at)) return fail(Errc::invalid_argument, "invalid expiresAt");
    return ok();
}

Result<std::string> ApiKeyService::parse_key_id(std::string_view key_id) {
    const std::string trimmed = trim(key_id);
    if (trimmed.empty()) return fail(Errc::invalid_argument, "apiKeyId is required");
    auto kid = normalize_uuid(trimmed);
    // The original echoes the parser's message; long input is cut to keep the body bounded.
    if (!kid) return fail(Errc::invalid_argument, "Invalid UUID string: " + trimmed.substr(0, 64));
    return *kid;
}

asio::awaitable<Result<std::string>> ApiKeyService::revoke(std::string user_id, std::string key_id) {
    auto id = parse_user_id(user_id);
    if (!id) co_return fail(id.error());
    auto kid = parse_key_id(key_id);
    if (!kid) co_return fail(kid.error());
    std::optional<std::string> hash;
    auto body = [&](ports::SqlSession& s) -> Result<void> {
        auto r = AuthStore(s).delete_api_key(*id, *kid);
        if (!r) return fail(r.error());
        hash = std::move(*r);
        return ok();
    };
    auto op = db_.transact(body);
    auto r = co_await std::move(op);
    if (!r) co_return fail(r.error());
    if (!hash) co_return fail(Errc::not_found, "api key not found");
    co_return *hash;
}

asio::awaitable<Result<VerifiedKey>> ApiKeyService::verify(std::string raw_key) {
    const std::string key = trim(raw_key);
    if (key.empty()) {
        metrics_.api_key_validate_failure("missing");
        co_return fail(Errc::unauthenticated, "api key is required");
    }
    if (key.size() > kMaxRawKeyLength) {
        metrics_.api_key_validate_failure("invalid");
        co_return fail(Errc::unauthenticated, "invalid api key");
    }
    const std::string hash = crypto::sha256_hex(key);
    std::optional<ApiKeyRow> row;
    std::vector<std::string> roles;
    auto body = [&](ports::SqlSession& s) -> Result<void> {
        AuthStore store(s);
        auto found = store.find_api_key_by_hash(hash);
        if (!found) return fail(found.error());
        row = std::move(*found);
        if (!row) return ok();
        auto r = store.roles_of(row->user_id);
        if (!r) return fail(r.error());
        roles = std::move(*r);
        return ok();
    };
    auto op = db_.transact(body);
    auto r = co_await std::move(op);
    if (!r) co_return fail(r.error());
    if (!row) {
        metrics_.api_key_validate_failure("invalid");
        co_return fail(Errc::unauthenticated, "invalid api key");
    }
    if (row->expires_at) {
        auto when = parse_rfc3339(*row->expires_at);
        if (!when || *when < clock_.now()) {
            metrics_.api_key_validate_failure("expired");
            co_return fail(Errc::unauthenticated, "api key expired");
        }
    }
    metrics_.api_key_validate_success();
    co_return VerifiedKey{row->user_id, std::move(roles), row->name, row->expires_at};
}

}  // namespace lt::auth
