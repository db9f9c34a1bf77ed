-- Named configuration texts (e.g. the usage metric definitions, TOML). A reference table.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
