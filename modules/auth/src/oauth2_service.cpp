#include "oauth2_service.hpp"

#include <algorithm>

#include "lt/core/jwt.hpp"
#include "lt/core/time.hpp"
#include "password.hpp"

namespace asio = boost::asio;

namespace lt::auth {

namespace {

/// Longer tokens cannot be ours; they are not parsed.
constexpr std::size_t kMaxTokenLength = 16384;
/// Longer secrets cannot match (bcrypt reads 72 bytes); they still cost one bcrypt.
constexpr std::size_t kMaxClientField = 200;

tl::unexpected<OAuthError> oauth_fail(int status, std::string error, std::string description) {
    return tl::unexpected<OAuthError>(OAuthError{status, std::move(error), std::move(description)});
}

std::vector<std::string> split_scopes(std::string_view text) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') ++i;
        std::size_t j = i;
        while (j < text.size() && text[j] != ' ') ++j;
        if (j > i) {
            std::string s(text.substr(i, j - i));
            if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
        }
        i = j;
    }
    return out;
}

std::int64_t epoch_seconds(std::chrono::system_clock::time_point tp) {
    return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}

}  // namespace

OAuth2Service::OAuth2Service(const AuthConfig& config, ports::SqlDatabase& db, PasswordPool& hashing, Clock& clock,
                             const KeyManager& keys)
    : config_(config), db_(db), hashing_(hashing), clock_(clock), keys_(keys) {}

asio::awaitable<OAuthResult<ClientToken>> OAuth2Service::client_credentials(TokenRequest req) {
    const std::string id = req.client_id.value_or("");
    std::string secret = req.client_secret.value_or("");
    const OAuthClient* client = nullptr;
    if (auto it = config_.clients.find(id); it != config_.clients.end() && !id.empty()) client = &it->second;
    if (secret.size() > kMaxClientField) secret.clear();
    // Unknown clients cost one bcrypt as well, so timing does not reveal which ids exist.
    std::optional<std::string> hash = client ? std::optional<std::string>(client->secret_hash) : std::nullopt;
    auto verify_op = hashing_.run([secret = std::move(secret), hash = std::move(hash)] {
        return hash ? verify_password(secret, *hash) : verify_dummy(secret);
    });
    const auto verified = co_await std::move(verify_op);
    if (!verified) co_return oauth_fail(503, "temporarily_unavailable", "too many authentications in progress");
    const bool authenticated = *verified;
    if (!client || !authenticated || !req.client_secret || req.client_secret->empty()) {
        co_return oauth_fail(401, "invalid_client", "client authentication failed");
    }
    if (!req.malformed.empty()) co_return oauth_fail(400, "invalid_request", req.malformed);
    if (!req.grant_type || req.grant_type->empty()) {
        co_return oauth_fail(400, "invalid_request", "grant_type is required");
    }
    if (*req.grant_type != "client_credentials") {
        co_return oauth_fail(400, "unsupported_grant_type", "only client_credentials is supported");
    }
    std::vector<std::string> granted;
    if (req.scope && !trim(*req.scope).empty()) {
        granted = split_scopes(*req.scope);
        for (const auto& s : granted) {
            if (std::find(client->scopes.begin(), client->scopes.end(), s) == client->scopes.end()) {
                co_return oauth_fail(400, "invalid_scope", "scope is not allowed for this client");
            }
        }
    } else {
        granted = client->scopes;
    }
    std::string scope;
    for (const auto& s : granted) scope += (scope.empty() ? "" : " ") + s;
    auto token = keys_.issue(id, {}, scope, clock_.now());
    if (!token) co_return oauth_fail(500, "server_error", "cannot issue a token");
    co_return ClientToken{std::move(*token), keys_.token_lifetime().count(), std::move(scope)};
}

asio::awaitable<Result<std::optional<RevokedToken>>> OAuth2Service::revoke(std::string token, bus::Principal who) {
    if (token.size() > kMaxTokenLength) co_return std::optional<RevokedToken>();
    const auto now = clock_.now();
    auto claims = jwt::verify(token, keys_.verification_keys(now), now, kClockSkew);
    if (!claims || claims->jti.empty()) co_return std::optional<RevokedToken>();
    if (claims->sub != who.user_id && !who.has_role(kRoleAdmin)) {
        co_return fail(Errc::forbidden, "only the token's subject or an admin may revoke it");
    }
    RevokedToken revoked{claims->jti, claims->exp};
    const auto horizon = epoch_seconds(now) - kClockSkew.count();
    auto body = [&](ports::SqlSession& s) -> Result<void> {
        AuthStore store(s);
        if (auto p = store.purge_revoked(horizon); !p) return p;
        return store.insert_revoked(revoked.jti, revoked.exp);
    };
    auto op = db_.transact(body);
    auto r = co_await std::move(op);
    if (!r) co_return fail(r.error());
    co_return std::optional<RevokedToken>(std::move(revoked));
}

asio::awaitable<Result<std::vector<RevokedToken>>> OAuth2Service::revoked() {
    // A verifier accepts a token up to exp + skew, so the id matters until then.
    const auto horizon = epoch_seconds(clock_.now()) - kClockSkew.count();
    std::vector<RevokedToken> out;
    auto body = [&](ports::SqlSession& s) -> Result<void> {
        auto r = AuthStore(s).revoked_tokens(horizon);
        if (!r) return fail(r.error());
        out = std::move(*r);
        return ok();
    };
    auto op = db_.transact(body);
    auto r = co_await std::move(op);
    if (!r) co_return fail(r.error());
    co_return out;
}

}  // namespace lt::auth
