-- Foundation schema (SQLite). Account-scoped tables carry account_id first in their primary
-- key so the PostgreSQL twin can later be distributed by account (Citus).

CREATE TABLE partners (
    partner_id TEXT PRIMARY KEY,
    name       TEXT NOT NULL
);

CREATE TABLE teams (
    team_id    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    lead_email TEXT
);

CREATE TABLE staff_users (
    email         TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    team_id       TEXT,
    partner_id    TEXT,
    password_hash TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE products (
    product_id TEXT PRIMARY KEY,
    name       TEXT NOT NULL
);

CREATE TABLE accounts (
    account_id      TEXT PRIMARY KEY,
    name            TEXT,
    segment         TEXT,
    touch_model     TEXT CHECK (touch_model IN ('high', 'hybrid', 'tech')),
    owner_email     TEXT,
    partner_id      TEXT,
    lifecycle_stage TEXT,
    attributes      TEXT NOT NULL DEFAULT '{}',
    created_at      TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX accounts_segment ON accounts (segment, account_id);
CREATE INDEX accounts_touch_model ON accounts (touch_model, account_id);
CREATE INDEX accounts_owner ON accounts (owner_email, account_id);
CREATE INDEX accounts_partner ON accounts (partner_id, account_id);

CREATE TABLE subscriptions (
    account_id         TEXT NOT NULL,
    product            TEXT NOT NULL,
    start_date         TEXT NOT NULL,
    end_date           TEXT,
    mrr_cents          INTEGER NOT NULL CHECK (mrr_cents >= 0),
    quantity           REAL,
    units              TEXT,
    bill_period_months INTEGER,
    discount           REAL,
    currency           TEXT NOT NULL,
    PRIMARY KEY (account_id, product, start_date),
    CHECK (end_date IS NULL OR end_date > start_date)
) WITHOUT ROWID;

-- Derived from subscriptions on every import: the net MRR change per account, product and day.
-- Abutting periods cancel out here, so metrics read only real changes.
CREATE TABLE mrr_changes (
    account_id  TEXT NOT NULL,
    product     TEXT NOT NULL,
    day         TEXT NOT NULL,
    delta_cents INTEGER NOT NULL,
    PRIMARY KEY (account_id, product, day)
) WITHOUT ROWID;

CREATE TABLE contacts (
    account_id TEXT NOT NULL,
    email      TEXT NOT NULL,
    name       TEXT,
    role       TEXT,
    title      TEXT,
    phone      TEXT,
    PRIMARY KEY (account_id, email)
);

CREATE TABLE activities (
    account_id   TEXT NOT NULL,
    activity_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    author_email TEXT,
    subject      TEXT,
    body         TEXT,
    PRIMARY KEY (account_id, activity_id)
);
CREATE INDEX activities_time ON activities (account_id, occurred_at);

CREATE TABLE churn_records (
    account_id     TEXT NOT NULL,
    churned_on     TEXT NOT NULL,
    reason         TEXT NOT NULL,
    avoidable      BOOLEAN NOT NULL,
    mrr_lost_cents INTEGER,
    note           TEXT,
    PRIMARY KEY (account_id, churned_on)
);
