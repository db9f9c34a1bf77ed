-- Account search by substring through an index (issue 25). `search_key` holds the id and the
-- name folded as people type them (NFKC, lower case, no spaces; see kizuna_domain::search);
-- the store writes it with the name, and fills it for older rows when it opens.
-- pg_trgm's GIN index serves `LIKE '%山田商%'` for three characters or more.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER TABLE accounts ADD COLUMN search_key TEXT;
CREATE INDEX accounts_search ON accounts USING gin (search_key gin_trgm_ops);
CREATE INDEX accounts_unsearchable ON accounts (account_id) WHERE search_key IS NULL;

-- Saved views of the account list, per user (issue 25): a name and the list's query string.
CREATE TABLE saved_views (
    user_email TEXT NOT NULL,
    view_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    query      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_email, view_id)
);
