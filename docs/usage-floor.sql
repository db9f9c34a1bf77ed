-- What SQLite itself takes for the keyed writes of a usage import, as set operations from the
-- bare table that `kizuna-bench import-events` loads with .import (FILE.raw.db):
--   sqlite3 /tmp/ie.db.raw.db < docs/usage-floor.sql
-- Same tables and keys as migrations 0010 and 0011; the rollup is built by one GROUP BY.
.timer on
PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;
CREATE TABLE ev (account_id TEXT NOT NULL, message_id TEXT NOT NULL, user_id TEXT, event_type TEXT NOT NULL, event_time TEXT NOT NULL, day TEXT NOT NULL, value DOUBLE PRECISION, properties TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (account_id, message_id)) WITHOUT ROWID;
CREATE TABLE du (account_id TEXT NOT NULL, day TEXT NOT NULL, event_type TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (account_id, day, event_type, user_id)) WITHOUT ROWID;
CREATE TABLE d (account_id TEXT NOT NULL, day TEXT NOT NULL, event_type TEXT NOT NULL, events BIGINT NOT NULL, value_sum DOUBLE PRECISION NOT NULL, users BIGINT NOT NULL, PRIMARY KEY (account_id, day, event_type)) WITHOUT ROWID;
BEGIN;
INSERT INTO ev SELECT account_id, message_id, user_id, event_type, event_time, substr(event_time, 1, 10), value, properties FROM raw_events;
INSERT INTO du SELECT account_id, substr(event_time, 1, 10), event_type, user_id FROM raw_events WHERE true ON CONFLICT DO NOTHING;
INSERT INTO d SELECT account_id, substr(event_time, 1, 10), event_type, count(*), total(value), count(DISTINCT user_id) FROM raw_events GROUP BY 1, 2, 3;
COMMIT;
