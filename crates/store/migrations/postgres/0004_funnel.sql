-- The revenue funnel (seed 004). Leads precede accounts, so these are not account-scoped.
CREATE TABLE funnel_leads (
    lead_id        TEXT PRIMARY KEY,
    account_id     TEXT,
    segment        TEXT,
    lead_on        DATE,
    meeting_on     DATE,
    opportunity_on DATE,
    won_on         DATE,
    onboarded_on   DATE,
    renewed_on     DATE
);

CREATE TABLE funnel_counts (
    month   TEXT NOT NULL,
    stage   TEXT NOT NULL,
    segment TEXT NOT NULL DEFAULT '',
    count   BIGINT NOT NULL CHECK (count >= 0),
    PRIMARY KEY (month, stage, segment)
);
