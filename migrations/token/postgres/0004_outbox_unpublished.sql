-- Token module (PostgreSQL; same version as ../sqlite/0004_outbox_unpublished.sql): the relay's claim
-- reads the oldest unpublished rows (published_at IS NULL ORDER BY seq LIMIT batch). With only the
-- index on published_at it fetched and sorted the whole backlog on every pass (measured: 18,722 rows,
-- 20 ms idle and 75 ms under load per claim, so the relay fell further behind as the backlog grew);
-- this partial index hands them over in seq order and stops after one batch (0.15 ms).
CREATE INDEX token_outbox_unpublished_idx ON token_outbox (seq) WHERE published_at IS NULL;
