-- Usage anomalies the daily signals found (issue 24): one per account and event per week-long
-- drop, so an anomaly raises its event (usage.anomaly) once and not again every day it lasts.
CREATE TABLE usage_anomalies (
    account_id      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    day             TEXT NOT NULL,
    last_week       REAL NOT NULL,
    baseline_median REAL NOT NULL,
    drop_ratio      REAL NOT NULL,
    robust_z        REAL,
    detected_at     BIGINT NOT NULL,
    PRIMARY KEY (account_id, event_type, day)
);
CREATE INDEX usage_anomalies_day ON usage_anomalies (day, account_id);
