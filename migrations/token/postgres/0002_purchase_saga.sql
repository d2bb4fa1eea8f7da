-- Token module (PostgreSQL; same schema version as the SQLite file): the purchase saga (one row per
-- purchase, advanced one committed step at a time) and the ledger of the simulated payment provider
-- (one payment per saga).
--
-- Status moves only forward: STARTED -> PAYMENT_RESERVED -> TOKENS_ALLOCATED -> COMPLETED, or to FAILED
-- from any non-terminal state. Every move is a compare-and-set on the current status, so the request that
-- drives a saga and the recovery job can never apply a step twice.
CREATE TABLE token_purchase_saga (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    org_id          TEXT,
    provider        TEXT NOT NULL,
    tokens          BIGINT NOT NULL CHECK (tokens > 0),
    status          TEXT NOT NULL CHECK (status IN ('STARTED', 'PAYMENT_RESERVED', 'TOKENS_ALLOCATED',
                                                    'COMPLETED', 'FAILED')),
    idempotency_key TEXT,
    failure_reason  TEXT,
    compensated_at  TEXT,           -- FAILED only: when the payment release was applied
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- Idempotency keys are scoped per user: concurrent first requests with one key create one saga.
CREATE UNIQUE INDEX token_purchase_saga_idem_idx ON token_purchase_saga (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX token_purchase_saga_status_idx ON token_purchase_saga (status, updated_at);
CREATE INDEX token_purchase_saga_org_idx ON token_purchase_saga (org_id);

-- The simulated payment provider's own ledger: RESERVED -> CAPTURED (saga completed) or RELEASED
-- (compensation). Keyed by saga id, so reserving twice for one saga is one reservation.
CREATE TABLE token_payments (
    saga_id    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('RESERVED', 'CAPTURED', 'RELEASED')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
