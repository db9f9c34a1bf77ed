-- A day's distinct users are counted from usage_daily_users when a day is read (one account's
-- days at a time) instead of on every write: each rollup write looked the count up again.
ALTER TABLE usage_daily DROP COLUMN users;
