-- Usage anomalies the daily signals found (issue 24): one per account and event per week-long
-- drop, so an anomaly raises its event (usage.anomaly) once and not again every day it lasts.
CREATE TABLE usage_anomalies (
    account_id      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    day             DATE NOT NULL,
    last_week       DOUBLE PRECISION NOT NULL,
    baseline_median DOUBLE PRECISION NOT NULL,
    drop_ratio      DOUBLE PRECISION NOT NULL,
    robust_z        DOUBLE PRECISION,
    detected_at     BIGINT NOT NULL,
    PRIMARY KEY (account_id, event_type, day)
);
CREATE INDEX usage_anomalies_day ON usage_anomalies (day, account_id);
