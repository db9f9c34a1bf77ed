-- Durable jobs (issue 24): one row per run of work the server does on its own (daily health
-- scoring, the session sweep), taken by one node at a time with a lease, retried with backoff
-- and kept as `dead` after its last attempt. Times are milliseconds since 1970 (UTC).
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    scheduled_for BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    node TEXT,
    lease_until BIGINT,
    error TEXT,
    started_at BIGINT,
    finished_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, scheduled_for);
