-- Journey stages with history (issue 26): every change of an account's stage with the day it
-- took effect and where it came from (manual, import, rule, plan), so a past day reads the
-- stage the account had then. accounts.lifecycle_stage stays the current stage.
CREATE TABLE stage_history (
    account_id  TEXT NOT NULL,
    change_id   BIGINT NOT NULL,
    changed_on  DATE NOT NULL,
    stage       TEXT,
    source      TEXT NOT NULL,
    changed_by  TEXT,
    note        TEXT,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, change_id)
);
CREATE INDEX stage_history_day ON stage_history (account_id, changed_on);

-- The stages known before the history existed: each from the day its account was created.
INSERT INTO stage_history (account_id, change_id, changed_on, stage, source, recorded_at)
SELECT account_id, 1, CAST(COALESCE(created_at, updated_at) AS DATE), lifecycle_stage, 'import',
       CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT)
FROM accounts WHERE lifecycle_stage IS NOT NULL;
