-- Token module: quota pools (user and org), organizations and their members, the transactional outbox.
-- Timestamps are RFC 3339 UTC text with milliseconds (they sort in time order). Balances are 64-bit
-- (BIGINT: INTEGER affinity in SQLite, int8 in PostgreSQL).
--
-- A pool holds an allowance A per window with its remaining part a, and purchased tokens P credited in
-- total with p remaining. Consumption spends a first, then p; a reset refills a to A and never touches p.
CREATE TABLE token_pools (
    id                  TEXT PRIMARY KEY,
    owner_type          TEXT NOT NULL CHECK (owner_type IN ('user', 'org')),
    owner_id            TEXT NOT NULL,
    provider            TEXT NOT NULL,
    allowance           BIGINT NOT NULL CHECK (allowance >= 0),
    allowance_remaining BIGINT NOT NULL CHECK (allowance_remaining >= 0),
    purchased_total     BIGINT NOT NULL CHECK (purchased_total >= 0),
    purchased_remaining BIGINT NOT NULL CHECK (purchased_remaining >= 0),
    reset_time          TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    UNIQUE (owner_type, owner_id, provider)
);

CREATE TABLE token_orgs (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE token_org_members (
    org_id     TEXT NOT NULL REFERENCES token_orgs (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

CREATE INDEX token_org_members_user_idx ON token_org_members (user_id);

-- Events written in the same transaction as the state they describe; the relay publishes them in seq
-- order and stamps published_at. Rows are never updated otherwise.
CREATE TABLE token_outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    aggregate_type TEXT NOT NULL,
    aggregate_id   TEXT,
    event_type     TEXT NOT NULL,
    payload        TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    published_at   TEXT
);

CREATE INDEX token_outbox_published_idx ON token_outbox (published_at);
