-- Product usage (SPEC §3). Events are account-scoped: account_id leads their key, and '' marks
-- an event whose user is not grouped with an account yet (attributed when the user is).

-- Users of the customers' product, and the account each was last grouped with.
CREATE TABLE usage_users (
    user_id    TEXT PRIMARY KEY,
    account_id TEXT,
    traits     TEXT NOT NULL DEFAULT '{}',
    seen_at    TIMESTAMPTZ NOT NULL
);

-- Every message id ever stored: a retried message is recognised and not counted again.
CREATE TABLE usage_message_ids (
    message_id TEXT PRIMARY KEY
);

CREATE TABLE usage_events (
    account_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    user_id    TEXT,
    event_type TEXT NOT NULL,
    event_time TIMESTAMPTZ NOT NULL,
    day        DATE NOT NULL,
    value      DOUBLE PRECISION,
    properties TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (account_id, message_id)
);
CREATE INDEX usage_events_day ON usage_events (account_id, day, event_type);
CREATE INDEX usage_events_pending ON usage_events (user_id) WHERE account_id = '';

-- Who did what on a day: lets the daily count of distinct users grow as events arrive
-- instead of being recounted.
CREATE TABLE usage_daily_users (
    account_id TEXT NOT NULL,
    day        DATE NOT NULL,
    event_type TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    PRIMARY KEY (account_id, day, event_type, user_id)
);

-- Per account, day (UTC) and event type: kept up to date as events arrive.
CREATE TABLE usage_daily (
    account_id TEXT NOT NULL,
    day        DATE NOT NULL,
    event_type TEXT NOT NULL,
    events     BIGINT NOT NULL,
    value_sum  DOUBLE PRECISION NOT NULL,
    users      BIGINT NOT NULL,
    PRIMARY KEY (account_id, day, event_type)
);
