-- Auth module (PostgreSQL): users, roles, API keys (SHA-256 at rest), RS256 signing keys, revoked JWT ids.
-- Same schema version as migrations/auth/sqlite/0001_auth.sql. Timestamps are RFC 3339 UTC text with
-- milliseconds (fixed width, so they sort in time order under any collation).
CREATE TABLE auth_users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE auth_roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT
);

INSERT INTO auth_roles (id, name, description) VALUES
    ('11111111-1111-1111-1111-111111111111', 'USER', 'Default user role'),
    ('22222222-2222-2222-2222-222222222222', 'ADMIN', 'Administrative role');

CREATE TABLE auth_user_roles (
    user_id TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES auth_roles (id),
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE auth_api_keys (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    key_hash   TEXT NOT NULL UNIQUE,
    name       TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT
);

CREATE INDEX auth_api_keys_user_idx ON auth_api_keys (user_id);

CREATE TABLE auth_signing_keys (
    kid         TEXT PRIMARY KEY,
    private_pem TEXT NOT NULL,
    public_pem  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    retired_at  TEXT
);

CREATE TABLE auth_revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE INDEX auth_revoked_tokens_exp_idx ON auth_revoked_tokens (expires_at);
