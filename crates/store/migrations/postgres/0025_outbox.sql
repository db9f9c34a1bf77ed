-- The outbox (issue 24): domain events written in the same transaction as the change that
-- raised them, read in order by consumers that keep their position. docs/events.md lists them.
CREATE TABLE outbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    account_id TEXT,
    payload TEXT NOT NULL
);
CREATE TABLE outbox_consumers (
    consumer TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
