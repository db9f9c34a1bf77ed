-- The forecast call a CSM sets on an account's renewal (issue 25): likely, at_risk, will_churn
-- or upsell, one per account and renewal date.
CREATE TABLE renewal_calls (
    account_id    TEXT NOT NULL,
    renewal_date  TEXT NOT NULL,
    forecast_call TEXT NOT NULL,
    note          TEXT,
    set_by        TEXT NOT NULL,
    set_at        BIGINT NOT NULL,
    PRIMARY KEY (account_id, renewal_date)
);
