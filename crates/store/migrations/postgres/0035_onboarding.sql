-- Onboarding plans (issue 26): each plan a template started for an account, with a copy of
-- the template's tasks and their due days (a template change does not rewrite running plans).
CREATE TABLE onboarding_plans (
    account_id         TEXT NOT NULL,
    plan_id            TEXT NOT NULL,
    template_id        TEXT NOT NULL,
    template_version   INTEGER NOT NULL,
    name               TEXT NOT NULL,
    product            TEXT NOT NULL,
    started_on         DATE NOT NULL,
    due_on             DATE NOT NULL,
    status             TEXT NOT NULL,
    completed_on       DATE,
    first_value_at     DATE,
    value_milestone    TEXT,
    behind_after_days  INTEGER NOT NULL,
    stuck_after_days   INTEGER NOT NULL,
    completes_to_stage TEXT,
    owner_email        TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (account_id, plan_id)
);
CREATE INDEX onboarding_plans_id ON onboarding_plans (plan_id);
CREATE INDEX onboarding_plans_status ON onboarding_plans (status, account_id);

-- late_from: the first day the task counts as late (its due day plus the plan's grace days,
-- plus one), so a report counts late tasks on any day in SQL.
CREATE TABLE onboarding_tasks (
    account_id  TEXT NOT NULL,
    plan_id     TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    position    INTEGER NOT NULL,
    phase_id    TEXT NOT NULL,
    phase_name  TEXT NOT NULL,
    title       TEXT NOT NULL,
    title_en    TEXT,
    description TEXT,
    side        TEXT NOT NULL,
    required    INTEGER NOT NULL,
    setup       INTEGER NOT NULL,
    due_on      DATE NOT NULL,
    late_from   DATE NOT NULL,
    depends_on  TEXT NOT NULL,
    criterion   TEXT NOT NULL,
    done_on     DATE,
    done_by     TEXT,
    done_how    TEXT,
    PRIMARY KEY (account_id, plan_id, task_id)
);
