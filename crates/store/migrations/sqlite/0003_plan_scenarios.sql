-- Planning scenarios (TOML text), by name. Not account-scoped: a reference table.
CREATE TABLE plan_scenarios (
    name       TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
