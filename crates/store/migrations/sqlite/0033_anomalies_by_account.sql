-- A book's anomalies of a week (the home): each account's rows of the week by its key, without
-- reading its older anomalies.
CREATE INDEX usage_anomalies_account_day ON usage_anomalies (account_id, day);
