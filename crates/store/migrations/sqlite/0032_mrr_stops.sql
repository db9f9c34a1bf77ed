-- The accounts whose MRR has fallen to zero, kept with mrr_events on every recompute, so the
-- account list tells active from churned on a day without summing every account's MRR
-- changes: stops counts the days its MRR fell to zero, churned_on is the last of them when MRR
-- has stayed at zero since (null when it came back). Accounts that never stopped have no row.
CREATE TABLE mrr_stops (
    account_id TEXT NOT NULL PRIMARY KEY,
    stops      INTEGER NOT NULL,
    churned_on TEXT
);
INSERT INTO mrr_stops (account_id, stops, churned_on)
SELECT e.account_id, SUM(CASE WHEN e.mrr_cents = 0 THEN 1 ELSE 0 END),
       CASE WHEN MAX(e.day) = MAX(CASE WHEN e.mrr_cents = 0 THEN e.day END) THEN MAX(e.day) END
FROM mrr_events e WHERE e.product = '' GROUP BY e.account_id
HAVING SUM(CASE WHEN e.mrr_cents = 0 THEN 1 ELSE 0 END) > 0;
