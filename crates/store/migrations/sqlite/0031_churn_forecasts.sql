-- Each paying account's churn probability from the latest forecast (issue 25): the model
-- calibrated on the account base's own history, as of `forecast_on`, over `horizon_days`.
-- Replaced whole by each refresh; the renewals centre and the churn-risk signal read it.
CREATE TABLE churn_forecasts (
    account_id   TEXT PRIMARY KEY,
    forecast_on  DATE NOT NULL,
    horizon_days INTEGER NOT NULL,
    probability  DOUBLE PRECISION NOT NULL
);
