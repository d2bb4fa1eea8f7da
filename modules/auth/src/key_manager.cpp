#include "key_manager.hpp"

#include <algorithm>

#include "auth_store.hpp"
#include "lt/core/time.hpp"

namespace lt::auth {

KeyManager::KeyManager(std::string issuer, std::chrono::seconds token_lifetime, int key_bits)
    : issuer_(std::move(issuer)), token_lifetime_(token_lifetime), key_bits_(key_bits) {}

namespace {

bool has_current(const std::vector<SigningKeyRow>& rows) {
    for (const auto& r : rows) {
        if (!r.retired_at && !r.private_pem.empty()) return true;
    }
    return false;
}

Result<SigningKeyRow> new_key_row(int bits, KeyManager::TimePoint now) {
    auto key = crypto::RsaKey::generate(bits);
    if (!key) return fail(key.error());
    return SigningKeyRow{new_uuid(), key->private_pem(), key->public_pem(), format_rfc3339(now), std::nullopt};
}

}  // namespace

Result<void> KeyManager::load_or_create(ports::SqlDatabase& db, TimePoint now) {
    std::vector<SigningKeyRow> rows;
    auto read = db.transact_sync([&](ports::SqlSession& s) -> Result<void> {
        auto r = AuthStore(s).signing_keys();
        if (!r) return fail(r.error());
        rows = std::move(*r);
        return ok();
    });
    if (!read) return read;
    if (!has_current(rows)) {
        // Generate outside the transaction (slow); another instance may have stored a key meanwhile,
        // in which case ours is dropped.
        auto row = new_key_row(key_bits_, now);
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
    auto row = new_key_row(key_bits_, now);
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
                auto priv = crypto::RsaKey::from_private_pem(row.private_pem);
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
                                      TimePoint now) const {
    jwt::Claims claims;
    claims.sub = std::move(sub);
    claims.iss = issuer_;
    std::sort(roles.begin(), roles.end());
    claims.roles = std::move(roles);
    claims.jti = new_uuid();
    claims.iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    claims.exp = claims.iat + token_lifetime_.count();
    claims.scope = std::move(scope);
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
