-- A CTA's scope (issue 26): what it is about within its account, type and reason. An
-- onboarding CTA opened by a signal is about one plan, so an account with two late plans gets
-- one CTA for each; every other CTA is about the account as a whole (''). One CTA per account,
-- type, reason and scope is not closed.
ALTER TABLE ctas ADD COLUMN scope TEXT NOT NULL DEFAULT '';
UPDATE ctas SET scope = substr(signal_key, position(':' in signal_key) + 1)
 WHERE cta_type = 'onboarding' AND source = 'signal' AND (signal_key LIKE 'plan:%' OR signal_key LIKE 'setup:%');
DROP INDEX ctas_one_open;
CREATE UNIQUE INDEX ctas_one_open ON ctas (account_id, cta_type, reason, scope) WHERE status <> 'closed';
