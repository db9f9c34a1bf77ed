-- An event's day is its time's UTC date: the copy in each row was read only when a group
-- attributes waiting events, and cost every event a value written and 11 bytes stored.
ALTER TABLE usage_events DROP COLUMN day;
