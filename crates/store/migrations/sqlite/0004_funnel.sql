-- The revenue funnel (seed 004). Leads precede accounts, so these are not account-scoped.
CREATE TABLE funnel_leads (
    lead_id        TEXT PRIMARY KEY,
    account_id     TEXT,
    segment        TEXT,
    lead_on        TEXT,
    meeting_on     TEXT,
    opportunity_on TEXT,
    won_on         TEXT,
    onboarded_on   TEXT,
    renewed_on     TEXT
);

CREATE TABLE funnel_counts (
    month   TEXT NOT NULL,
    stage   TEXT NOT NULL,
    segment TEXT NOT NULL DEFAULT '',
    count   INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (month, stage, segment)
);
