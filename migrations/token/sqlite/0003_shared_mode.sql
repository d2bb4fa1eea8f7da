-- Token module: what several `serve` processes sharing one database need (CONTRACT 30).
--
-- token_reservations: in the shared quota mode (token.quota.reservation=shared) a reservation is a debit
-- of the pool committed at reserve time, with this row written in the same transaction. Settle deletes
-- it (with the usage event); release deletes it and credits the split back. A row still here after its
-- expires_at belongs to a request that died with its process: any process refunds it (exactly once:
-- the refund is conditional on deleting the row).
CREATE TABLE token_reservations (
    id             TEXT PRIMARY KEY,
    owner_type     TEXT NOT NULL,
    owner_id       TEXT NOT NULL,
    provider       TEXT NOT NULL,
    from_allowance BIGINT NOT NULL CHECK (from_allowance >= 0),
    from_purchased BIGINT NOT NULL CHECK (from_purchased >= 0),
    window_reset   TEXT,            -- the pool's reset_time at reserve: the allowance part is refunded only into that window
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);

CREATE INDEX token_reservations_expires_idx ON token_reservations (expires_at);

-- Outbox claims: a relay publishes only rows it claimed (claim_until in the future), so N relays never
-- publish one row at the same time; a claim that expires (its process died) is taken over.
ALTER TABLE token_outbox ADD COLUMN claim_owner TEXT;
ALTER TABLE token_outbox ADD COLUMN claim_until TEXT;
-- Saga rows wait for an earlier row of their saga held by another relay (order per saga).
CREATE INDEX token_outbox_aggregate_idx ON token_outbox (aggregate_id, seq) WHERE aggregate_id IS NOT NULL;

-- Saga recovery claims: one process recovers an interrupted saga, the others skip it until the lease
-- expires.
ALTER TABLE token_purchase_saga ADD COLUMN recovery_owner TEXT;
ALTER TABLE token_purchase_saga ADD COLUMN recovery_until TEXT;
