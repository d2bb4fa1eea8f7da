-- Issue 15: a canonical user-name key (NFKC_Casefold + confusable skeleton; unique, so "ADMIN" or a
-- Cyrillic look-alike of "admin" cannot be registered beside it; filled for older rows at start) and a
-- per-user roles version (JWT claim "rv"; a role change bumps it and stale tokens lose their roles).
ALTER TABLE auth_users ADD COLUMN username_key TEXT;
ALTER TABLE auth_users ADD COLUMN roles_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE auth_users ADD COLUMN roles_changed_at BIGINT;
CREATE UNIQUE INDEX auth_users_username_key_idx ON auth_users (username_key);
CREATE INDEX auth_users_roles_changed_idx ON auth_users (roles_changed_at);
