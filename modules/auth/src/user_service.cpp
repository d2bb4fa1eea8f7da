#include "user_service.hpp"

#include <cctype>

#include <boost/json.hpp>

#include "auth_store.hpp"
#include "lt/core/time.hpp"
#include "password.hpp"
#include "username.hpp"

namespace asio = boost::asio;

namespace lt::auth {

namespace {

constexpr const char* kRequired = "username, email, and password are required";
constexpr const char* kLoginRequired = "username and password are required";
constexpr const char* kInvalidCredentials = "invalid credentials";
constexpr const char* kBusy = "too many logins in progress: try again later";

/// The first problem with registration fields (already trimmed), or "".
std::string validate_new_user(const std::string& username, const std::string& email, const std::string& password) {
    if (username.empty() || email.empty() || trim(password).empty()) return kRequired;
    if (utf8_length(username) > kMaxUsernameChars) return "username too long";
    if (auto problem = username_problem(username)) return *problem;
    if (utf8_length(email) > kMaxEmailChars) return "email too long";
    if (password.size() > kMaxPasswordBytes) return "password too long";
    if (password.find('\0') != std::string::npos) return "password must not contain NUL characters";
    return {};
}

}  // namespace

boost::json::value to_json(const AuthResult& r) {
    boost::json::array roles;
    for (const auto& role : r.roles) roles.emplace_back(role);
    return boost::json::object{{"userId", r.user_id}, {"username", r.username}, {"token", r.token}, {"roles", roles}};
}

std::optional<std::string> parse_role(std::string_view text) {
    std::string upper(text);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!role_id(upper)) return std::nullopt;
    return upper;
}

Result<std::string> upsert_user(ports::SqlDatabase& db, std::chrono::system_clock::time_point now,
                                const std::string& username_in, const std::string& email_in,
                                const std::string& password, bool admin) {
    const std::string username = trim(username_in);
    const std::string email = trim(email_in).empty() ? username + "@localhost" : trim(email_in);
    if (auto problem = validate_new_user(username, email, password); !problem.empty()) {
        return fail(Errc::invalid_argument, problem);
    }
    auto hash = hash_password(password);
    if (!hash) return fail(hash.error());
    std::string id;
    auto r = db.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        AuthStore store(s);
        const auto stamp = format_rfc3339(now);
        // Exact name only: the bootstrap admin must never take over a look-alike account registered
        // before it (inserting then fails on the canonical key: "username already exists").
        auto existing = store.find_user_by_username(username, true);
        if (!existing) return fail(existing.error());
        if (*existing) {
            id = (*existing)->id;
            if (auto u = store.update_password(id, *hash, stamp); !u) return u;
        } else {
            auto taken = store.email_taken(email);
            if (!taken) return fail(taken.error());
            if (*taken) return fail(Errc::invalid_argument, "email already exists");
            id = new_uuid();
            if (auto i = store.insert_user(UserRow{id, username, email, *hash}, stamp); !i) {
                if (i.error().code == Errc::conflict) return fail(Errc::invalid_argument, "username already exists");
                return i;
            }
        }
        if (auto g = store.grant_role(id, kRoleUser); !g) return g;
        if (admin) return store.grant_role(id, kRoleAdmin);
        return ok();
    });
    if (!r) return fail(r.error());
    return id;
}

UserService::UserService(ports::SqlDatabase& db, PasswordPool& hashing, Clock& clock, const KeyManager& keys,
                         AuthMetrics& metrics)
    : db_(db), hashing_(hashing), clock_(clock), keys_(keys), metrics_(metrics) {}

asio::awaitable<Result<std::string>> UserService::duplicate_of(std::string username, std::string email) {
    std::string duplicate;
    auto body = [&](ports::SqlSession& s) -> Result<void> {
        AuthStore store(s);
        auto user = store.find_user_by_username(username);
        if (!user) return fail(user.error());
        if (*user) {
            duplicate = "username already exists";
            return ok();
        }
        auto taken = store.email_taken(email);
        if (!taken) return fail(taken.error());
        if (*taken) duplicate = "email already exists";
        return ok();
    };
    auto op = db_.transact(body);
    auto r = co_await std::move(op);
    if (!r) co_return fail(r.error());
    co_return duplicate;
}

asio::awaitable<Result<AuthResult>> UserService::register_user(Credentials in) {
    if (!in.username || !in.email || !in.password) {
        metrics_.register_failure();
        co_return fail(Errc::invalid_argument, kRequired);
    }
    std::string username = trim(*in.username);
    std::string email = trim(*in.email);
    std::string password = std::move(*in.password);
    if (auto problem = validate_new_user(username, email, password); !problem.empty()) {
        metrics_.register_failure();
        co_return fail(Errc::invalid_argument, problem);
    }
    auto dup_op = duplicate_of(username, email);
    auto dup = co_await std::move(dup_op);
    if (!dup) co_return fail(dup.error());
    if (!dup->empty()) {
        metrics_.register_failure();
        co_return fail(Errc::invalid_argument, *dup);
    }

    auto hash_op = hashing_.run([pw = std::move(password)] { return hash_password(pw); });
    auto hashed = co_await std::move(hash_op);
    if (!hashed) co_return fail(Errc::unavailable, kBusy);
    auto hash = std::move(*hashed);
    if (!hash) co_return fail(hash.error());

    AuthResult out{new_uuid(), username, {}, {std::string(kRoleUser)}};
    const auto now = clock_.now();
    auto insert = [&](ports::SqlSession& s) -> Result<void> {
        AuthStore store(s);
        if (auto i = store.insert_user(UserRow{out.user_id, username, email, *hash}, format_rfc3339(now)); !i) return i;
        return store.grant_role(out.user_id, kRoleUser);
    };
    auto insert_op = db_.transact(insert);
    auto inserted = co_await std::move(insert_op);
    if (!inserted) {
        if (inserted.error().code != Errc::conflict) co_return fail(inserted.error());
        // Lost a race with a concurrent registration of the same name or email.
        auto again_op = duplicate_of(username, email);
        auto again = co_await std::move(again_op);
        metrics_.register_failure();
        co_return fail(Errc::invalid_argument, again && !again->empty() ? *again : "username already exists");
    }
    auto token = keys_.issue(out.user_id, out.roles, {}, now);
    if (!token) co_return fail(token.error());
    out.token = std::move(*token);
    metrics_.register_success();
    co_return out;
}

asio::awaitable<Result<AuthResult>> UserService::login(Credentials in) {
    std::string username = in.username ? trim(*in.username) : std::string();
    if (username.empty() || !in.password || trim(*in.password).empty()) {
        metrics_.login_failure();
        co_return fail(Errc::unauthenticated, kLoginRequired);
    }
    std::string password = std::move(*in.password);
    std::optional<UserRow> user;
    std::vector<std::string> roles;
    if (utf8_length(username) <= kMaxUsernameChars) {
        auto lookup = [&](ports::SqlSession& s) -> Result<void> {
            AuthStore store(s);
            auto found = store.find_user_by_username(username);
            if (!found) return fail(found.error());
            user = std::move(*found);
            if (!user) return ok();
            auto r = store.roles_of(user->id);
            if (!r) return fail(r.error());
            roles = std::move(*r);
            return ok();
        };
        auto lookup_op = db_.transact(lookup);
        auto looked = co_await std::move(lookup_op);
        if (!looked) co_return fail(looked.error());
    }
    // Unknown users cost one bcrypt as well, so timing does not reveal which names exist.
    std::optional<std::string> hash = user ? user->password_hash : std::nullopt;
    auto verify_op = hashing_.run([pw = std::move(password), hash = std::move(hash)] {
        return hash ? verify_password(pw, *hash) : verify_dummy(pw);
    });
    const auto verified = co_await std::move(verify_op);
    if (!verified) co_return fail(Errc::unavailable, kBusy);
    const bool match = *verified;
    if (!match || !user) {
        metrics_.login_failure();
        co_return fail(Errc::unauthenticated, kInvalidCredentials);
    }
    if (roles.empty()) {
        // The original assigns USER to an account without roles at its first login.
        auto grant = [&](ports::SqlSession& s) -> Result<void> { return AuthStore(s).grant_role(user->id, kRoleUser); };
        auto grant_op = db_.transact(grant);
        auto granted = co_await std::move(grant_op);
        if (!granted) co_return fail(granted.error());
        roles.emplace_back(kRoleUser);
    }
    AuthResult out{user->id, user->username, {}, roles};
    auto token = keys_.issue(out.user_id, out.roles, {}, clock_.now(), user->roles_version);
    if (!token) co_return fail(token.error());
    out.token = std::move(*token);
    metrics_.login_success();
    co_return out;
}

asio::awaitable<Result<std::int64_t>> UserService::set_role(std::string user_id, std::string role, bool grant) {
    auto id = normalize_uuid(user_id);
    if (!id) co_return fail(Errc::invalid_argument, "invalid userId");
    auto parsed = parse_role(role);
    if (!parsed) co_return fail(Errc::invalid_argument, "role must be USER or ADMIN");
    const std::string name = *parsed;
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
    std::int64_t version = 0;
    auto body = [&](ports::SqlSession& s) -> Result<void> {
        AuthStore store(s);
        auto user = store.find_user_by_id(*id);
        if (!user) return fail(user.error());
        if (!*user) return fail(Errc::not_found, "user not found");
        auto changed = grant ? store.grant_role(*id, name) : store.revoke_role(*id, name);
        if (!changed) return changed;
        // Every change bumps the version, so tokens issued before it stop carrying their roles.
        auto v = store.bump_roles_version(*id, now_s);
        if (!v) return fail(v.error());
        version = *v;
        return ok();
    };
    auto op = db_.transact(body);
    auto r = co_await std::move(op);
    if (!r) co_return fail(r.error());
    co_return version;
}

}  // namespace lt::auth
