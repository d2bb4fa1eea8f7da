-- Analytics module: raw usage and purchase events (idempotent by event_id) and per-minute rollups.
-- Times are milliseconds since the Unix epoch (BIGINT); `minute` is the start of a minute in the
-- same unit. `allowed` is 1 or 0. A rollup row is updated in the transaction that inserts a new raw
-- event, so rollups always equal the sums of the raw events (until the raw events are purged).
CREATE TABLE analytics_usage_events (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL,
    org_id      TEXT,
    provider    TEXT NOT NULL,
    tokens      BIGINT NOT NULL,
    allowed     INTEGER NOT NULL CHECK (allowed IN (0, 1)),
    outcome     TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);

-- Newest events of a provider (with the rowid, so ties come newest-stored first without a sort), the
-- partial minutes at a window's edges and the retention purge. Queries over every provider go through
-- it too (`provider IN` the providers of the rollups): no index on occurred_at alone, which would cost
-- every insert for the rare cross-provider query.
CREATE INDEX analytics_usage_provider_time_idx ON analytics_usage_events (provider, occurred_at);
-- A user's own events (non-admin queries). Keyed by user, so inserts touch one leaf page per user of a
-- batch: the main cost of ingestion, paid so that a user's query never scans other users' events.
CREATE INDEX analytics_usage_user_time_idx ON analytics_usage_events (user_id, occurred_at);

CREATE TABLE analytics_purchase_events (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    event       TEXT NOT NULL,
    saga_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    org_id      TEXT,
    provider    TEXT NOT NULL,
    tokens      BIGINT NOT NULL,
    status      TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);

CREATE INDEX analytics_purchase_user_time_idx ON analytics_purchase_events (user_id, occurred_at);
CREATE INDEX analytics_purchase_time_idx ON analytics_purchase_events (occurred_at);

CREATE TABLE analytics_rollup_provider (
    provider       TEXT NOT NULL,
    minute         BIGINT NOT NULL,
    allowed_events BIGINT NOT NULL,
    denied_events  BIGINT NOT NULL,
    allowed_tokens BIGINT NOT NULL,
    denied_tokens  BIGINT NOT NULL,
    PRIMARY KEY (provider, minute)
);

CREATE INDEX analytics_rollup_provider_minute_idx ON analytics_rollup_provider (minute);

CREATE TABLE analytics_rollup_user (
    user_id        TEXT NOT NULL,
    provider       TEXT NOT NULL,
    minute         BIGINT NOT NULL,
    allowed_events BIGINT NOT NULL,
    denied_events  BIGINT NOT NULL,
    allowed_tokens BIGINT NOT NULL,
    denied_tokens  BIGINT NOT NULL,
    PRIMARY KEY (user_id, provider, minute)
);

-- Per-user breakdown of one provider (top users) and the rollup purge.
CREATE INDEX analytics_rollup_user_provider_idx ON analytics_rollup_user (provider, minute);
CREATE INDEX analytics_rollup_user_minute_idx ON analytics_rollup_user (minute);
