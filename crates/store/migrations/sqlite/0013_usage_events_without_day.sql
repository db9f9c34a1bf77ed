-- An event's day is its time's UTC date: the copy in each row was read only when a group
-- attributes waiting events, and cost every event a value written and 11 bytes stored.
-- The table is rebuilt (the bundled SQLite's DROP COLUMN failed on it with SQLITE_FULL).
CREATE TABLE usage_events_n (
    account_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    user_id    TEXT,
    event_type TEXT NOT NULL,
    event_time TEXT NOT NULL,
    value      DOUBLE PRECISION,
    properties TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (account_id, message_id)
) WITHOUT ROWID;
INSERT INTO usage_events_n SELECT account_id, message_id, user_id, event_type, event_time, value, properties FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_n RENAME TO usage_events;
CREATE INDEX usage_events_pending ON usage_events (user_id) WHERE account_id = '';
