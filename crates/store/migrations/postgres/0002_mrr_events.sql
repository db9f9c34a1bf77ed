-- Derived from mrr_changes on every import: each MRR change of an account (product = '') and of
-- each account × product, with the MRR before and after and whether the unit had paid before.
-- MRR movement reports aggregate this table instead of running window functions each time.
CREATE TABLE mrr_events (
    account_id  TEXT NOT NULL,
    product     TEXT NOT NULL,
    day         DATE NOT NULL,
    prev_cents  BIGINT NOT NULL,
    mrr_cents   BIGINT NOT NULL,
    paid_before BOOLEAN NOT NULL,
    PRIMARY KEY (account_id, product, day)
);
CREATE INDEX mrr_events_day ON mrr_events (product, day);

-- Backfill for databases imported before this table existed (same statement as on import).
INSERT INTO mrr_events (account_id, product, day, prev_cents, mrr_cents, paid_before)
WITH d AS (
    SELECT c.account_id, '' AS product, c.day, SUM(c.delta_cents) AS delta
    FROM mrr_changes c
    GROUP BY c.account_id, c.day HAVING SUM(c.delta_cents) <> 0
    UNION ALL
    SELECT c.account_id, c.product, c.day, c.delta_cents
    FROM mrr_changes c
), r AS (
    SELECT account_id, product, day,
           SUM(delta) OVER (PARTITION BY account_id, product ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS mrr
    FROM d
)
SELECT account_id, product, day,
       COALESCE(LAG(mrr) OVER (PARTITION BY account_id, product ORDER BY day), 0),
       mrr,
       COALESCE(MAX(mrr) OVER (PARTITION BY account_id, product ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) > 0
FROM r;
