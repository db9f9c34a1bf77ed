-- What a plan's tasks say, kept on the plan (issue 26) so the KPI report reads 100,000 plan
-- rows instead of grouping 2,000,000 task rows: late_from, the first day one of its required
-- tasks not done counts as late (none when all are done); last_done_on, the latest day a task
-- was done. Written with the plan and its tasks, and by the daily run.
ALTER TABLE onboarding_plans ADD COLUMN late_from DATE;
ALTER TABLE onboarding_plans ADD COLUMN last_done_on DATE;
UPDATE onboarding_plans SET
    late_from = (SELECT MIN(t.late_from) FROM onboarding_tasks t
                  WHERE t.account_id = onboarding_plans.account_id AND t.plan_id = onboarding_plans.plan_id AND t.required = 1 AND t.done_on IS NULL),
    last_done_on = (SELECT MAX(t.done_on) FROM onboarding_tasks t
                  WHERE t.account_id = onboarding_plans.account_id AND t.plan_id = onboarding_plans.plan_id);
