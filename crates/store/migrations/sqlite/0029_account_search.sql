-- Account search by substring through an index (issue 25). `search_key` holds the id and the
-- name folded as people type them (NFKC, lower case, no spaces; see kizuna_domain::search);
-- the store writes it with the name, and fills it for older rows when it opens.
-- FTS5's trigram tokenizer indexes every three-character sequence, so `LIKE '%山田商%'` reads
-- the index instead of every row. Its rows are numbered by `account_search_ids`, an explicit
-- INTEGER PRIMARY KEY, because VACUUM may renumber the accounts table's own rowids. (No
-- INSERT OR IGNORE in the triggers: an upsert's own conflict handling overrides a trigger's.)
ALTER TABLE accounts ADD COLUMN search_key TEXT;
CREATE INDEX accounts_unsearchable ON accounts (account_id) WHERE search_key IS NULL;

CREATE TABLE account_search_ids (
    search_id  INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE account_search USING fts5 (search_key, tokenize = 'trigram');

CREATE TRIGGER accounts_search_insert AFTER INSERT ON accounts WHEN new.search_key IS NOT NULL BEGIN
    INSERT INTO account_search_ids (account_id)
        SELECT new.account_id WHERE NOT EXISTS (SELECT 1 FROM account_search_ids WHERE account_id = new.account_id);
    INSERT INTO account_search (rowid, search_key)
        VALUES ((SELECT search_id FROM account_search_ids WHERE account_id = new.account_id), new.search_key);
END;

CREATE TRIGGER accounts_search_update AFTER UPDATE OF search_key ON accounts
WHEN new.search_key IS NOT old.search_key BEGIN
    DELETE FROM account_search WHERE rowid = (SELECT search_id FROM account_search_ids WHERE account_id = old.account_id);
    INSERT INTO account_search_ids (account_id)
        SELECT new.account_id WHERE NOT EXISTS (SELECT 1 FROM account_search_ids WHERE account_id = new.account_id);
    INSERT INTO account_search (rowid, search_key)
        SELECT (SELECT search_id FROM account_search_ids WHERE account_id = new.account_id), new.search_key
        WHERE new.search_key IS NOT NULL;
END;

CREATE TRIGGER accounts_search_delete AFTER DELETE ON accounts BEGIN
    DELETE FROM account_search WHERE rowid = (SELECT search_id FROM account_search_ids WHERE account_id = old.account_id);
    DELETE FROM account_search_ids WHERE account_id = old.account_id;
END;

-- Saved views of the account list, per user (issue 25): a name and the list's query string.
CREATE TABLE saved_views (
    user_email TEXT NOT NULL,
    view_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    query      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_email, view_id)
);
