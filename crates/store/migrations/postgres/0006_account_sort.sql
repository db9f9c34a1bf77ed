-- The account list sorts by name (the id when there is none): read a page in that order
-- instead of sorting every account. (Owner, partner, segment and stage have indexes already.)
CREATE INDEX accounts_name ON accounts ((COALESCE(name, account_id)), account_id);
