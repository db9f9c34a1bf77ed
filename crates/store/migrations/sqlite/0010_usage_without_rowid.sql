-- The usage tables keyed by their primary key alone (SQLite only: PostgreSQL has no rowid).
-- A rowid table keeps the key in a second B-tree, so every upsert wrote two trees and every
-- scan in key order (usage metrics, scoring) looked each row up in the other one.

CREATE TABLE usage_message_ids_k (
    message_id TEXT PRIMARY KEY
) WITHOUT ROWID;
INSERT INTO usage_message_ids_k SELECT message_id FROM usage_message_ids;
DROP TABLE usage_message_ids;
ALTER TABLE usage_message_ids_k RENAME TO usage_message_ids;

CREATE TABLE usage_events_k (
    account_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    user_id    TEXT,
    event_type TEXT NOT NULL,
    event_time TEXT NOT NULL,
    day        TEXT NOT NULL,
    value      DOUBLE PRECISION,
    properties TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (account_id, message_id)
) WITHOUT ROWID;
INSERT INTO usage_events_k SELECT account_id, message_id, user_id, event_type, event_time, day, value, properties FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_k RENAME TO usage_events;
CREATE INDEX usage_events_day ON usage_events (account_id, day, event_type);
CREATE INDEX usage_events_pending ON usage_events (user_id) WHERE account_id = '';

CREATE TABLE usage_daily_users_k (
    account_id TEXT NOT NULL,
    day        TEXT NOT NULL,
    event_type TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    PRIMARY KEY (account_id, day, event_type, user_id)
) WITHOUT ROWID;
INSERT INTO usage_daily_users_k SELECT account_id, day, event_type, user_id FROM usage_daily_users;
DROP TABLE usage_daily_users;
ALTER TABLE usage_daily_users_k RENAME TO usage_daily_users;

CREATE TABLE usage_daily_k (
    account_id TEXT NOT NULL,
    day        TEXT NOT NULL,
    event_type TEXT NOT NULL,
    events     BIGINT NOT NULL,
    value_sum  DOUBLE PRECISION NOT NULL,
    users      BIGINT NOT NULL,
    PRIMARY KEY (account_id, day, event_type)
) WITHOUT ROWID;
INSERT INTO usage_daily_k SELECT account_id, day, event_type, events, value_sum, users FROM usage_daily;
DROP TABLE usage_daily;
ALTER TABLE usage_daily_k RENAME TO usage_daily;
