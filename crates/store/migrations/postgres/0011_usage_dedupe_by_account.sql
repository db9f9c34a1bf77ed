-- A retried message is recognised by the events' own key, (account_id, message_id): one
-- B-tree write per event instead of two, and no table without account_id, so the usage
-- tables can be distributed by account. The (account, day, type) index was never read:
-- everything by day reads the rollup.
DROP TABLE usage_message_ids;
DROP INDEX usage_events_day;
