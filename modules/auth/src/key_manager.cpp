#include "key_manager.hpp"

#include <algorithm>

#include "auth_store.hpp"
#include "lt/core/time.hpp"

namespace lt::auth {

KeyManager::KeyManager(std::string issuer, std::chrono::seconds token_lifetime, int key_bits,
                       std::string_view key_encryption_key)
    : issuer_(std::move(issuer)), token_lifetime_(token_lifetime), key_bits_(key_bits) {
    if (!key_encryption_key.empty()) kek_ = crypto::derive_key(key_encryption_key);
}

namespace {

bool has_current(const std::vector<SigningKeyRow>& rows) {
    for (const auto& r : rows) {
        if (!r.retired_at && !r.private_pem.empty()) return true;
    }
    return false;
}

constexpr std::string_view kEncryptedPrefix = "enc:v1:";
constexpr const char* kKekKey = "auth.jwt.key-encryption-key";

bool is_encrypted(std::string_view stored) { return stored.substr(0, kEncryptedPrefix.size()) == kEncryptedPrefix; }

}  // namespace

Result<SigningKeyRow> KeyManager::new_key(TimePoint now) const {
    auto key = crypto::RsaKey::generate(key_bits_);
    if (!key) return fail(key.error());
    SigningKeyRow row{new_uuid(), {}, key->public_pem(), format_rfc3339(now), std::nullopt};
    auto stored = protect(row.kid, key->private_pem());
    if (!stored) return fail(stored.error());
    row.private_pem = std::move(*stored);
    return row;
}

Result<std::string> KeyManager::protect(const std::string& kid, const std::string& pem) const {
    if (!kek_ || pem.empty()) return pem;
    auto sealed = crypto::seal(*kek_, pem, kid);
    if (!sealed) return fail(sealed.error());
    return std::string(kEncryptedPrefix) + crypto::base64url_encode(*sealed);
}

Result<std::string> KeyManager::unprotect(const std::string& kid, const std::string& stored) const {
    if (!is_encrypted(stored)) return stored;
    if (!kek_) {
        return fail(Errc::invalid_argument, "signing key " + kid + " is encrypted at rest but " + kKekKey +
                                                " is not set");
    }
    auto raw = crypto::base64url_decode(std::string_view(stored).substr(kEncryptedPrefix.size()));
    auto pem = raw ? crypto::open(*kek_, *raw, kid) : Result<std::string>(fail(Errc::invalid_argument, "bad"));
    if (!pem) {
        return fail(Errc::invalid_argument,
                    std::string(kKekKey) + " does not decrypt signing key " + kid + " (wrong key?)");
    }
    return std::move(*pem);
}

Result<void> KeyManager::encrypt_plaintext_keys(ports::SqlDatabase& db) {
    if (!kek_) return ok();
    return db.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        AuthStore store(s);
        auto rows = store.signing_keys();
        if (!rows) return fail(rows.error());
        for (const auto& row : *rows) {
            if (row.private_pem.empty() || is_encrypted(row.private_pem)) continue;
            auto stored = protect(row.kid, row.private_pem);
            if (!stored) return fail(stored.error());
            if (auto u = store.set_signing_key_private(row.kid, *stored); !u) return u;
        }
        return ok();
    });
}

Result<void> KeyManager::load_or_create(ports::SqlDatabase& db, TimePoint now) {
    std::vector<SigningKeyRow> rows;
    auto read = db.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        auto r = AuthStore(s).signing_keys();
        if (!r) return fail(r.error());
        rows = std::move(*r);
        return ok();
    });
    if (!read) return read;
    // A wrong (or missing) key-encryption key stops the start, naming the config key.
    for (const auto& row : rows) {
        if (row.private_pem.empty()) continue;
        if (auto pem = unprotect(row.kid, row.private_pem); !pem) return fail(pem.error());
    }
    if (auto r = encrypt_plaintext_keys(db); !r) return r;
    if (!has_current(rows)) {
        // Generate outside the transaction (slow); another instance may have stored a key meanwhile,
        // in which case ours is dropped.
        auto row = new_key(now);
        if (!row) return fail(row.error());
        auto stored = db.transact_sync([&](ports::SqlSession& s) -> Result<void> {
            AuthStore store(s);
            auto again = store.signing_keys();
            if (!again) return fail(again.error());
            if (has_current(*again)) return ok();
            return store.insert_signing_key(*row);
        });
        if (!stored) return stored;
    }
    return reload(db, now);
}

Result<std::string> KeyManager::rotate(ports::SqlDatabase& db, TimePoint now) {
    auto row = new_key(now);
    if (!row) return fail(row.error());
    auto stored = db.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        AuthStore store(s);
        if (auto r = store.retire_signing_keys(format_rfc3339(now)); !r) return r;
        return store.insert_signing_key(*row);
    });
    if (!stored) return fail(stored.error());
    if (auto r = reload(db, now); !r) return fail(r.error());
    return row->kid;
}

Result<void> KeyManager::reload(ports::SqlDatabase& db, TimePoint now) {
    auto state = std::make_shared<State>();
    bool have_current = false;
    auto read = db.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        AuthStore store(s);
        auto rows = store.signing_keys();
        if (!rows) return fail(rows.error());
        // Oldest first: the newest unretired key ends up current.
        for (const auto& row : *rows) {
            Published p;
            p.kid = row.kid;
            if (row.retired_at) {
                p.retired_at = parse_rfc3339(*row.retired_at);
                if (!p.retired_at) p.retired_at = now;  // unreadable: keep it one full lifetime
                if (!still_needed(p, now)) {
                    if (auto d = store.delete_signing_key(row.kid); !d) return d;
                    continue;
                }
                auto pub = crypto::RsaKey::from_public_pem(row.public_pem);
                if (!pub) return fail(Errc::internal, "stored signing key " + row.kid + " is unreadable");
                p.key = std::move(*pub);
            } else {
                auto pem = unprotect(row.kid, row.private_pem);
                if (!pem) return fail(pem.error());
                auto priv = crypto::RsaKey::from_private_pem(*pem);
                if (!priv) return fail(Errc::internal, "stored signing key " + row.kid + " is unreadable");
                state->current = *priv;
                state->current_kid = row.kid;
                have_current = true;
                auto pub = crypto::RsaKey::from_public_pem(row.public_pem);
                p.key = pub ? std::move(*pub) : *priv;
            }
            state->keys.push_back(std::move(p));
        }
        if (!have_current) return fail(Errc::internal, "no current signing key");
        return ok();
    });
    if (!read) return read;
    std::lock_guard lock(mutex_);
    state_ = std::move(state);
    return ok();
}

bool KeyManager::still_needed(const Published& k, TimePoint now) const {
    if (!k.retired_at) return true;
    return *k.retired_at + token_lifetime_ + kClockSkew >= now;
}

std::shared_ptr<const KeyManager::State> KeyManager::snapshot() const {
    std::lock_guard lock(mutex_);
    return state_;
}

Result<std::string> KeyManager::sign(const jwt::Claims& claims) const {
    auto state = snapshot();
    if (!state) return fail(Errc::unavailable, "signing key not loaded");
    return jwt::sign(claims, state->current, state->current_kid);
}

Result<std::string> KeyManager::issue(std::string sub, std::vector<std::string> roles, std::string scope,
                                      TimePoint now, std::int64_t roles_version) const {
    jwt::Claims claims;
    claims.sub = std::move(sub);
    claims.iss = issuer_;
    std::sort(roles.begin(), roles.end());
    claims.roles = std::move(roles);
    claims.jti = new_uuid();
    claims.iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    claims.exp = claims.iat + token_lifetime_.count();
    claims.scope = std::move(scope);
    claims.rv = roles_version;
    return sign(claims);
}

jwt::KeySet KeyManager::verification_keys(TimePoint now) const {
    jwt::KeySet set;
    auto state = snapshot();
    if (!state) return set;
    for (const auto& k : state->keys) {
        if (still_needed(k, now)) set.add(k.kid, k.key);
    }
    return set;
}

boost::json::value KeyManager::jwks(TimePoint now) const { return jwt::to_jwks(verification_keys(now)); }

std::string KeyManager::current_kid() const {
    auto state = snapshot();
    return state ? state->current_kid : std::string();
}

}  // namespace lt::auth
