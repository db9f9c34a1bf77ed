-- Health score history (SPEC §4): one row per account and scoring day; detail is the whole
-- explanation (JSON), so "what changed since last time" compares measure by measure.
CREATE TABLE health_scores (
    account_id TEXT NOT NULL,
    scored_on  DATE NOT NULL,
    scorecard  TEXT NOT NULL,
    score      DOUBLE PRECISION,
    band       TEXT,
    grade      TEXT,
    detail     TEXT NOT NULL,
    PRIMARY KEY (account_id, scored_on)
);
CREATE INDEX health_scores_day ON health_scores (scored_on, account_id);

-- Each account's latest score and the one before it, for lists, filters and trend arrows.
CREATE TABLE health_current (
    account_id     TEXT PRIMARY KEY,
    scored_on      DATE NOT NULL,
    score          DOUBLE PRECISION,
    band           TEXT,
    grade          TEXT,
    previous_score DOUBLE PRECISION
);
CREATE INDEX health_current_band ON health_current (band, account_id);
