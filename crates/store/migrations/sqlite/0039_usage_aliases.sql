-- An id that is the same person as a user (Segment's alias, or the anonymousId an identify
-- carries): the alias's events go to the user's account, now or once the user is grouped.
-- The first link of an id wins, as Segment's alias is made once.
CREATE TABLE usage_aliases (
    alias_id TEXT PRIMARY KEY,
    user_id  TEXT NOT NULL,
    seen_at  TEXT NOT NULL
);
CREATE INDEX usage_aliases_user ON usage_aliases (user_id);

-- When a user was last grouped, apart from when it was last identified (seen_at): the latest
-- group wins by its own time, whatever identifies arrived in between.
ALTER TABLE usage_users ADD COLUMN grouped_at TEXT;
UPDATE usage_users SET grouped_at = seen_at WHERE account_id IS NOT NULL;
