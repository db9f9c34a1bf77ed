-- Calls to action (issue 25): work on one account that someone owns, with its tasks and
-- comments. Keyed by account first (Citus-ready); times in milliseconds since 1970.
CREATE TABLE ctas (
    account_id    TEXT NOT NULL,
    cta_id        TEXT NOT NULL,
    cta_type      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    title         TEXT NOT NULL,
    priority      INTEGER NOT NULL,
    status        TEXT NOT NULL,
    owner_email   TEXT,
    due_on        DATE,
    snoozed_until DATE,
    snooze_reason TEXT,
    source        TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    signal_key    TEXT NOT NULL,
    created_by    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    closed_at     BIGINT,
    outcome       TEXT,
    close_note    TEXT,
    PRIMARY KEY (account_id, cta_id)
);
-- One CTA per account, type and reason that is not closed: a second signal updates it.
CREATE UNIQUE INDEX ctas_one_open ON ctas (account_id, cta_type, reason) WHERE status <> 'closed';
CREATE UNIQUE INDEX ctas_id ON ctas (cta_id);
CREATE INDEX ctas_owner ON ctas (owner_email, status, due_on);
CREATE INDEX ctas_status ON ctas (status, due_on);
CREATE INDEX ctas_closed ON ctas (closed_at) WHERE closed_at IS NOT NULL;

CREATE TABLE cta_tasks (
    account_id  TEXT NOT NULL,
    cta_id      TEXT NOT NULL,
    task_id     BIGINT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT,
    owner_email TEXT,
    owner_role  TEXT NOT NULL,
    due_on      DATE,
    done_at     BIGINT,
    done_by     TEXT,
    PRIMARY KEY (account_id, cta_id, task_id)
);

CREATE TABLE cta_comments (
    account_id TEXT NOT NULL,
    cta_id     TEXT NOT NULL,
    comment_id BIGINT NOT NULL,
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (account_id, cta_id, comment_id)
);
