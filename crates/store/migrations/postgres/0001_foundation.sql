-- Foundation schema (PostgreSQL). Account-scoped tables carry account_id first in their primary
-- key so they can be distributed by account with Citus.

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
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
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
    attributes      JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX accounts_segment ON accounts (segment, account_id);
CREATE INDEX accounts_touch_model ON accounts (touch_model, account_id);
CREATE INDEX accounts_owner ON accounts (owner_email, account_id);
CREATE INDEX accounts_partner ON accounts (partner_id, account_id);

CREATE TABLE subscriptions (
    account_id         TEXT NOT NULL,
    product            TEXT NOT NULL,
    start_date         DATE NOT NULL,
    end_date           DATE,
    mrr_cents          BIGINT NOT NULL CHECK (mrr_cents >= 0),
    quantity           DOUBLE PRECISION,
    units              TEXT,
    bill_period_months INTEGER,
    discount           DOUBLE PRECISION,
    currency           TEXT NOT NULL,
    PRIMARY KEY (account_id, product, start_date),
    CHECK (end_date IS NULL OR end_date > start_date)
);

-- Derived from subscriptions on every import: the net MRR change per account, product and day.
CREATE TABLE mrr_changes (
    account_id  TEXT NOT NULL,
    product     TEXT NOT NULL,
    day         DATE NOT NULL,
    delta_cents BIGINT NOT NULL,
    PRIMARY KEY (account_id, product, day)
);

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
    occurred_at  TIMESTAMPTZ NOT NULL,
    author_email TEXT,
    subject      TEXT,
    body         TEXT,
    PRIMARY KEY (account_id, activity_id)
);
CREATE INDEX activities_time ON activities (account_id, occurred_at);

CREATE TABLE churn_records (
    account_id     TEXT NOT NULL,
    churned_on     DATE NOT NULL,
    reason         TEXT NOT NULL,
    avoidable      BOOLEAN NOT NULL,
    mrr_lost_cents BIGINT,
    note           TEXT,
    PRIMARY KEY (account_id, churned_on)
);
