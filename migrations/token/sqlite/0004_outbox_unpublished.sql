-- Token module (SQLite; same version as ../postgres/0004_outbox_unpublished.sql): the oldest
-- unpublished outbox rows in seq order without reading the published ones (the relay's claim).
CREATE INDEX token_outbox_unpublished_idx ON token_outbox (seq) WHERE published_at IS NULL;
