#include "auth_store.hpp"

#include "username.hpp"

namespace lt::auth {

using ports::as_int;
using ports::as_text;
using ports::SqlRow;
using ports::SqlValue;

namespace {

constexpr std::string_view kUserRoleId = "11111111-1111-1111-1111-111111111111";
constexpr std::string_view kAdminRoleId = "22222222-2222-2222-2222-222222222222";

SqlValue text(std::string_view v) { return SqlValue(std::string(v)); }
SqlValue opt_text(const std::optional<std::string>& v) { return v ? SqlValue(*v) : SqlValue(nullptr); }
std::string col(const SqlRow& row, std::size_t i) { return i < row.size() ? as_text(row[i]).value_or("") : ""; }
std::optional<std::string> opt_col(const SqlRow& row, std::size_t i) {
    return i < row.size() ? as_text(row[i]) : std::nullopt;
}

constexpr const char* kUserColumns = "id, username, email, password_hash, roles_version";

UserRow user_from(const SqlRow& row) {
    UserRow u{col(row, 0), col(row, 1), col(row, 2), opt_col(row, 3)};
    u.roles_version = row.size() > 4 ? as_int(row[4]).value_or(0) : 0;
    return u;
}

ApiKeyRow key_from(const SqlRow& row) {
    return ApiKeyRow{col(row, 0), col(row, 1), opt_col(row, 2), col(row, 3), opt_col(row, 4)};
}

}  // namespace

std::optional<std::string_view> role_id(std::string_view name) {
    if (name == kRoleUser) return kUserRoleId;
    if (name == kRoleAdmin) return kAdminRoleId;
    return std::nullopt;
}

Result<ports::SqlResult> AuthStore::exec(std::string_view sql, std::initializer_list<SqlValue> params) {
    return s_.execute(sql, params);
}

Result<std::optional<UserRow>> AuthStore::find_user_by_username(std::string_view username, bool exact) {
    // Exact name first (rows from before the key existed), then the canonical key.
    auto r = exec(std::string("SELECT ") + kUserColumns + " FROM auth_users WHERE username = $1", {text(username)});
    if (!r) return fail(r.error());
    if (r->rows.empty() && !exact) {
        r = exec(std::string("SELECT ") + kUserColumns + " FROM auth_users WHERE username_key = $1",
                 {text(username_key(username))});
        if (!r) return fail(r.error());
    }
    if (r->rows.empty()) return std::optional<UserRow>();
    return std::optional<UserRow>(user_from(r->rows.front()));
}

Result<std::vector<std::pair<std::string, std::string>>> AuthStore::users_without_key() {
    auto r = exec("SELECT id, username FROM auth_users WHERE username_key IS NULL ORDER BY created_at, id", {});
    if (!r) return fail(r.error());
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& row : r->rows) out.emplace_back(col(row, 0), col(row, 1));
    return out;
}

Result<bool> AuthStore::set_username_key(std::string_view user_id, std::string_view key) {
    auto taken = exec("SELECT 1 FROM auth_users WHERE username_key = $1", {text(key)});
    if (!taken) return fail(taken.error());
    if (!taken->rows.empty()) return false;
    auto r = exec("UPDATE auth_users SET username_key = $2 WHERE id = $1", {text(user_id), text(key)});
    if (!r) return fail(r.error());
    return true;
}

Result<std::int64_t> AuthStore::bump_roles_version(std::string_view user_id, std::int64_t now_s) {
    auto r = exec("UPDATE auth_users SET roles_version = roles_version + 1, roles_changed_at = $2 WHERE id = $1",
                  {text(user_id), SqlValue(now_s)});
    if (!r) return fail(r.error());
    auto v = exec("SELECT roles_version FROM auth_users WHERE id = $1", {text(user_id)});
    if (!v) return fail(v.error());
    if (v->rows.empty() || v->rows.front().empty()) return fail(Errc::not_found, "user not found");
    return as_int(v->rows.front()[0]).value_or(0);
}

Result<std::vector<std::pair<std::string, std::int64_t>>> AuthStore::roles_changed_since(std::int64_t since_s) {
    auto r = exec("SELECT id, roles_version FROM auth_users WHERE roles_changed_at >= $1", {SqlValue(since_s)});
    if (!r) return fail(r.error());
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const auto& row : r->rows) out.emplace_back(col(row, 0), row.size() > 1 ? as_int(row[1]).value_or(0) : 0);
    return out;
}

Result<std::optional<UserRow>> AuthStore::find_user_by_id(std::string_view id) {
    auto r = exec(std::string("SELECT ") + kUserColumns + " FROM auth_users WHERE id = $1", {text(id)});
    if (!r) return fail(r.error());
    if (r->rows.empty()) return std::optional<UserRow>();
    return std::optional<UserRow>(user_from(r->rows.front()));
}

Result<bool> AuthStore::email_taken(std::string_view email) {
    auto r = exec("SELECT 1 FROM auth_users WHERE email = $1", {text(email)});
    if (!r) return fail(r.error());
    return !r->rows.empty();
}

Result<void> AuthStore::insert_user(const UserRow& user, std::string_view now) {
    auto r = exec(
        "INSERT INTO auth_users (id, username, email, password_hash, created_at, updated_at, username_key) "
        "VALUES ($1, $2, $3, $4, $5, $5, $6)",
        {text(user.id), text(user.username), text(user.email), opt_text(user.password_hash), text(now),
         text(username_key(user.username))});
    if (!r) return fail(r.error());
    return ok();
}

Result<void> AuthStore::update_password(std::string_view user_id, std::string_view hash, std::string_view now) {
    auto r = exec("UPDATE auth_users SET password_hash = $2, updated_at = $3 WHERE id = $1",
                  {text(user_id), text(hash), text(now)});
    if (!r) return fail(r.error());
    return ok();
}

Result<std::vector<std::string>> AuthStore::roles_of(std::string_view user_id) {
    auto r = exec(
        "SELECT r.name FROM auth_user_roles ur JOIN auth_roles r ON r.id = ur.role_id WHERE ur.user_id = $1 "
        "ORDER BY r.name",
        {text(user_id)});
    if (!r) return fail(r.error());
    std::vector<std::string> roles;
    for (const auto& row : r->rows) roles.push_back(col(row, 0));
    return roles;
}

Result<void> AuthStore::grant_role(std::string_view user_id, std::string_view role) {
    auto id = role_id(role);
    if (!id) return fail(Errc::invalid_argument, "invalid role");
    auto r = exec("INSERT INTO auth_user_roles (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                  {text(user_id), text(*id)});
    if (!r) return fail(r.error());
    return ok();
}

Result<void> AuthStore::revoke_role(std::string_view user_id, std::string_view role) {
    auto id = role_id(role);
    if (!id) return fail(Errc::invalid_argument, "invalid role");
    auto r = exec("DELETE FROM auth_user_roles WHERE user_id = $1 AND role_id = $2", {text(user_id), text(*id)});
    if (!r) return fail(r.error());
    return ok();
}

Result<std::int64_t> AuthStore::count_api_keys(std::string_view user_id) {
    auto r = exec("SELECT COUNT(*) FROM auth_api_keys WHERE user_id = $1", {text(user_id)});
    if (!r) return fail(r.error());
    if (r->rows.empty() || r->rows.front().empty()) return std::int64_t{0};
    return as_int(r->rows.front()[0]).value_or(0);
}

Result<void> AuthStore::insert_api_key(const ApiKeyRow& key, std::string_view key_hash) {
    auto r = exec(
        "INSERT INTO auth_api_keys (id, user_id, key_hash, name, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        {text(key.id), text(key.user_id), text(key_hash), opt_text(key.name), text(key.created_at),
         opt_text(key.expires_at)});
    if (!r) return fail(r.error());
    return ok();
}

Result<std::vector<ApiKeyRow>> AuthStore::list_api_keys(std::string_view user_id) {
    auto r = exec(
        "SELECT id, user_id, name, created_at, expires_at FROM auth_api_keys WHERE user_id = $1 "
        "ORDER BY created_at, id",
        {text(user_id)});
    if (!r) return fail(r.error());
    std::vector<ApiKeyRow> keys;
    for (const auto& row : r->rows) keys.push_back(key_from(row));
    return keys;
}

Result<std::optional<std::string>> AuthStore::delete_api_key(std::string_view user_id, std::string_view key_id) {
    auto r = exec("SELECT key_hash FROM auth_api_keys WHERE id = $1 AND user_id = $2", {text(key_id), text(user_id)});
    if (!r) return fail(r.error());
    if (r->rows.empty()) return std::optional<std::string>();
    auto hash = col(r->rows.front(), 0);
    auto d = exec("DELETE FROM auth_api_keys WHERE id = $1 AND user_id = $2", {text(key_id), text(user_id)});
    if (!d) return fail(d.error());
    return std::optional<std::string>(std::move(hash));
}

Result<std::optional<ApiKeyRow>> AuthStore::find_api_key_by_hash(std::string_view key_hash) {
    auto r = exec("SELECT id, user_id, name, created_at, expires_at FROM auth_api_keys WHERE key_hash = $1",
                  {text(key_hash)});
    if (!r) return fail(r.error());
    if (r->rows.empty()) return std::optional<ApiKeyRow>();
    return std::optional<ApiKeyRow>(key_from(r->rows.front()));
}

Result<std::vector<SigningKeyRow>> AuthStore::signing_keys() {
    auto r = exec("SELECT kid, private_pem, public_pem, created_at, retired_at FROM auth_signing_keys "
                  "ORDER BY created_at, kid",
                  {});
    if (!r) return fail(r.error());
    std::vector<SigningKeyRow> keys;
    for (const auto& row : r->rows) {
        keys.push_back(SigningKeyRow{col(row, 0), col(row, 1), col(row, 2), col(row, 3), opt_col(row, 4)});
    }
    return keys;
}

Result<void> AuthStore::insert_signing_key(const SigningKeyRow& key) {
    auto r = exec(
        "INSERT INTO auth_signing_keys (kid, private_pem, public_pem, created_at, retired_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        {text(key.kid), text(key.private_pem), text(key.public_pem), text(key.created_at), opt_text(key.retired_at)});
    if (!r) return fail(r.error());
    return ok();
}

Result<void> AuthStore::set_signing_key_private(std::string_view kid, std::string_view private_pem) {
    auto r = exec("UPDATE auth_signing_keys SET private_pem = $2 WHERE kid = $1", {text(kid), text(private_pem)});
    if (!r) return fail(r.error());
    return ok();
}

Result<void> AuthStore::retire_signing_keys(std::string_view now) {
    auto r = exec("UPDATE auth_signing_keys SET retired_at = $1, private_pem = '' WHERE retired_at IS NULL",
                  {text(now)});
    if (!r) return fail(r.error());
    return ok();
}

Result<void> AuthStore::delete_signing_key(std::string_view kid) {
    auto r = exec("DELETE FROM auth_signing_keys WHERE kid = $1", {text(kid)});
    if (!r) return fail(r.error());
    return ok();
}

Result<void> AuthStore::insert_revoked(std::string_view jti, std::int64_t exp) {
    auto r = exec("INSERT INTO auth_revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                  {text(jti), SqlValue(exp)});
    if (!r) return fail(r.error());
    return ok();
}

Result<std::vector<RevokedToken>> AuthStore::revoked_tokens(std::int64_t now) {
    auto r = exec("SELECT jti, expires_at FROM auth_revoked_tokens WHERE expires_at >= $1 ORDER BY expires_at, jti",
                  {SqlValue(now)});
    if (!r) return fail(r.error());
    std::vector<RevokedToken> out;
    for (const auto& row : r->rows) {
        out.push_back(RevokedToken{col(row, 0), row.size() > 1 ? as_int(row[1]).value_or(0) : 0});
    }
    return out;
}

Result<void> AuthStore::purge_revoked(std::int64_t now) {
    auto r = exec("DELETE FROM auth_revoked_tokens WHERE expires_at < $1", {SqlValue(now)});
    if (!r) return fail(r.error());
    return ok();
}

}  // namespace lt::auth
